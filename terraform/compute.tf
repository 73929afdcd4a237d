################################################################################
# Instance security group
################################################################################

resource "aws_security_group" "instances" {
  name_prefix = "${var.name}-instances-"
  description = "scaleapp instances: app port from the load balancer only, HTTPS out"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name}-instances"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# The only way in. No SSH rule at all: operators use SSM Session Manager
# (aws ssm start-session --target i-...; then systemctl status scaleapp, journalctl -u scaleapp).
resource "aws_vpc_security_group_ingress_rule" "instances_from_alb" {
  security_group_id            = aws_security_group.instances.id
  description                  = "App port from the load balancer (traffic and health checks)"
  ip_protocol                  = "tcp"
  from_port                    = local.contract.port
  to_port                      = local.contract.port
  referenced_security_group_id = aws_security_group.alb.id
}

# HTTPS out to AWS APIs (SSM agent, ECR, CloudWatch) and, on the container path, the Amazon
# Linux package mirror and ECR's S3 layer storage. Their addresses are not fixed CIDRs; VPC endpoints
# would allow narrowing this at the cost of hourly endpoint fees. DNS, NTP and IMDS use link-local
# addresses that security groups do not filter.
resource "aws_vpc_security_group_egress_rule" "instances_https" {
  security_group_id = aws_security_group.instances.id
  description       = "HTTPS to AWS APIs, ECR and the package mirror"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

################################################################################
# Image
################################################################################

# The golden AMI: the region's entry of ami_ids, else ami_id (both written by packer build), else the
# newest AMI of this account with the tag Packer writes. The tag filter applies in every case, so a
# mistyped or foreign AMI ID fails at plan time instead of launching something that is not scaleapp.
data "aws_ami" "app" {
  count = var.delivery == "ami" ? 1 : 0

  owners      = ["self"]
  most_recent = true

  filter {
    name   = "tag:${local.contract.ami_tag_key}"
    values = [local.contract.ami_tag_value]
  }

  filter {
    name   = "state"
    values = ["available"]
  }

  dynamic "filter" {
    for_each = local.requested_ami_id == "" ? [] : [local.requested_ami_id]
    content {
      name   = "image-id"
      values = [filter.value]
    }
  }
}

# The container path boots stock Amazon Linux 2023. Read at plan time (not resolve:ssm: at launch) so
# every instance of a launch template version runs the same AMI, a new AL2023 release shows up as a
# plan diff that rolls the fleet through an instance refresh, and the refresh may set auto_rollback (AWS
# does not support a rollback for a launch template that resolves its AMI from an SSM parameter).
data "aws_ssm_parameter" "container_host_ami" {
  count = local.is_container ? 1 : 0

  name = var.container_host_ami_parameter
}

# What the instance type runs: an x86_64 AMI on a Graviton type (or the reverse) launches nothing, and
# the ASG only says so in its activity history, after the apply succeeded.
data "aws_ec2_instance_type" "app" {
  instance_type = var.instance_type
}

locals {
  requested_ami_id = lookup(var.ami_ids, var.region, var.ami_id)
  image_id         = local.is_container ? data.aws_ssm_parameter.container_host_ami[0].insecure_value : data.aws_ami.app[0].id
  # AL2023's root device; the golden AMI is built from AL2023 but its own mapping is authoritative.
  root_device_name = local.is_container ? "/dev/xvda" : data.aws_ami.app[0].root_device_name
  # The image's architecture as AWS reports it: the golden AMI's own attribute, or the suffix of the
  # AL2023 parameter (its validation allows only x86_64 and arm64).
  image_architecture = local.is_container ? regex("(x86_64|arm64)$", var.container_host_ami_parameter)[0] : data.aws_ami.app[0].architecture
}

################################################################################
# Launch template
################################################################################

resource "aws_launch_template" "app" {
  name_prefix   = "${var.name}-"
  description   = "scaleapp (${var.delivery})"
  image_id      = local.image_id
  instance_type = var.instance_type

  iam_instance_profile {
    arn = aws_iam_instance_profile.app.arn
  }

  vpc_security_group_ids = [aws_security_group.instances.id]

  # IMDSv2 only. Hop limit 1 on the AMI path keeps the metadata (and the role's credentials) on the
  # host itself; the container path needs 2 because a bridged container is one network hop further
  # and the service reads its identity from IMDS.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = local.is_container ? 2 : 1
    instance_metadata_tags      = "disabled"
  }

  # 1-minute instance metrics instead of 5: the CPU alarms and target tracking see a load change in
  # one minute, not five.
  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = local.root_device_name

    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_size
      encrypted             = true
      delete_on_termination = true
    }
  }

  user_data = base64encode(local.is_container ? module.user_data.container : module.user_data.ami)

  # The ASG does not pass the provider's default_tags to what it launches: tag instances, volumes and
  # network interfaces here.
  dynamic "tag_specifications" {
    for_each = toset(["instance", "volume", "network-interface"])
    content {
      resource_type = tag_specifications.value
      tags          = local.instance_tags
    }
  }

  tags = {
    Name = var.name
  }

  # No update_default_version: the ASG pins latest_version itself (see below).

  lifecycle {
    # ami_architecture (written by the bake) empty: nothing to compare, the AMI's own attribute decides.
    precondition {
      condition     = var.delivery != "ami" || var.ami_architecture == "" || var.ami_architecture == local.image_architecture
      error_message = "ami_architecture (${var.ami_architecture}, from the bake's tfvars file) differs from the AMI's own architecture (${local.image_architecture}): the tfvars file and the AMI come from different bakes."
    }
    precondition {
      condition     = contains(data.aws_ec2_instance_type.app.supported_architectures, local.image_architecture)
      error_message = "instance_type ${var.instance_type} runs ${join("/", data.aws_ec2_instance_type.app.supported_architectures)}, the image is ${local.image_architecture}: choose a matching type (t3.* for x86_64, t4g.* for arm64) or bake for it."
    }
  }
}

################################################################################
# Auto Scaling group
################################################################################

resource "aws_autoscaling_group" "app" {
  name                = var.name
  vpc_zone_identifier = aws_subnet.public[*].id
  target_group_arns   = [aws_lb_target_group.app.arn]

  min_size         = var.min_size
  max_size         = var.max_size
  desired_capacity = var.desired_capacity

  # ELB, not EC2: an instance whose service is down but whose VM is fine fails the ALB's /health check
  # and is replaced. With "EC2" the group would keep it forever.
  health_check_type = "ELB"

  # Counted from InService, which the instance reaches while the OS is still booting. A binary READY in
  # milliseconds does not need the 300 s default: on the AMI path the time to a healthy target is the OS
  # boot (10-20 s; the user data only writes a file before the unit starts) plus two health checks 5 s
  # apart. 60 s covers a slow boot with margin, and a broken instance is replaced about a minute after
  # launch instead of serving errors for five. The container path also installs Docker and pulls the
  # image: 180 s. A grace period shorter than the boot would kill every new instance before it could pass.
  health_check_grace_period = local.grace_period

  # Metrics of an instance count for scaling only after this long, so the CPU burst of the boot itself
  # (cloud-init, and on the container path dnf and docker pull) does not trigger more scale-out. The
  # service is at steady state as soon as it is healthy, so the same budget as the grace period.
  default_instance_warmup = local.instance_warmup

  # latest_version, not "$Latest": the ASG then records a concrete version, a new template version is
  # a diff on this resource, and that diff starts the instance refresh below. With "$Latest" the ASG
  # never changes, so no refresh ever starts and old instances keep running the old AMI.
  launch_template {
    id      = aws_launch_template.app.id
    version = aws_launch_template.app.latest_version
  }

  # A new AMI (packer build, then terraform apply) rolls through the fleet by itself.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      # With the default 100 the refresh launches replacements and waits for them to pass the ALB
      # health check before it terminates old instances: capacity never drops. max 150: room for
      # the extra instances (max - min may not exceed 100).
      min_healthy_percentage = var.instance_refresh_min_healthy_percentage
      max_healthy_percentage = 150
      # auto_rollback does NOT bring the previous AMI back here: the AWS provider points the ASG at the
      # new template version before it starts the refresh (hashicorp/terraform-provider-aws#34189), and
      # a rollback returns to the group's saved configuration, i.e. the same new version. What it does:
      # when the refresh fails (replacements never turn healthy), AWS stops it and replaces the instances
      # it launched with that saved version again, which cannot succeed either. Kept because it costs
      # nothing and works as named if the provider is fixed. Capacity still never drops (default min
      # healthy 100 %: old instances stay until replacements pass the ALB check). To recover, apply
      # the previous ami_id (or container_image_tag): a new version and a new refresh.
      auto_rollback = true
      skip_matching = true
    }
  }

  # Group metrics (1-minute) for the dashboards and the README's scale-out timeline.
  metrics_granularity = "1Minute"
  enabled_metrics = [
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
  ]

  dynamic "warm_pool" {
    for_each = var.enable_warm_pool ? [1] : []
    content {
      pool_state = "Stopped"
      min_size   = var.warm_pool_min_size
      # Null leaves AWS's default (max_size): the pool then holds max_size - desired instances.
      max_group_prepared_capacity = var.warm_pool_max_prepared_capacity
      instance_reuse_policy {
        reuse_on_scale_in = true
      }
    }
  }

  # Propagated to the instances at launch (default_tags are not); the launch template tags the volumes.
  dynamic "tag" {
    for_each = local.instance_tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  # Instances need their route out from the first boot (SSM agent; on the container path dnf and ECR),
  # and nothing references the route directly: order the group after it (the provider's
  # aws_internet_gateway docs recommend this). On destroy the instances go first.
  depends_on = [aws_route.internet, aws_route_table_association.public]

  lifecycle {
    # desired_capacity belongs to the scaling policies once the group exists. Without this every
    # terraform apply would reset it to var.desired_capacity: terminating instances the policy just
    # added under load, or launching ones it just removed.
    ignore_changes = [desired_capacity]
  }
}
