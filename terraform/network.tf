################################################################################
# VPC with two public subnets in two Availability Zones
################################################################################

data "aws_availability_zones" "available" {
  state = "available"

  # Local Zones and Wavelength Zones are opt-in and lack instance types and ALB support.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  # Two zones: an ALB needs subnets in at least two, and the ASG spreads instances across them so one
  # zone's outage leaves half the fleet serving.
  azs = slice(data.aws_availability_zones.available.names, 0, 2)
}

# Accepted: flow logs cost money per GB for a demo VPC whose only traffic is the ALB and its targets.
# Add an aws_flow_log for anything long-lived.
#tfsec:ignore:aws-ec2-require-vpc-flow-logs-for-all-vpcs
resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = var.name
  }
}

# Adopts the VPC's default security group and removes its rules, so nothing lands in an open group by
# accident (CIS AWS 5.4).
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = {
    Name = "${var.name}-default-unused"
  }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = {
    Name = var.name
  }
}

# Public subnets and no NAT gateway: instances reach SSM, ECR and the package mirror through the
# internet gateway with a public IP, which saves a NAT gateway's hourly cost. Their security group still
# admits nothing from the Internet (compute.tf): the public address is only used for egress.
resource "aws_subnet" "public" {
  count = length(local.azs)

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index)
  # Accepted: see above, a public IP is the instances' only route out without a NAT gateway.
  #tfsec:ignore:aws-ec2-no-public-ip-subnet
  map_public_ip_on_launch = true

  tags = {
    Name = "${var.name}-public-${local.azs[count.index]}"
  }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = {
    Name = "${var.name}-public"
  }
}

resource "aws_route" "internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = length(aws_subnet.public)

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}
