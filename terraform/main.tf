# scaleapp on AWS: a VPC with two public subnets, an ALB, and an Auto Scaling Group that runs the golden
# AMI baked by packer/ (delivery = "ami") or Amazon Linux 2023 + the service's image from ECR
# (delivery = "container"). Files by resource family: network.tf, alb.tf, compute.tf, scaling.tf,
# iam.tf, ecr.tf.

provider "aws" {
  region = var.region

  # default_tags reach every resource the provider creates, but NOT the instances the ASG launches:
  # compute.tf repeats them in the ASG's propagated tags and the launch template's tag_specifications.
  default_tags {
    tags = local.tags
  }
}

locals {
  # The one source of truth for the names and numbers shared with the service and the Packer bake
  # (port, health path, unit, env file, drain delay, AMI tag). contract/terraform_test.go checks that
  # the resources below really read them from here.
  contract = jsondecode(file("${path.module}/../contract/contract.json"))

  tags = merge(var.tags, {
    Project   = local.contract.name
    ManagedBy = "terraform"
  })

  # Tags the instances (and their volumes and ENIs) carry: what runs where, for the console and billing.
  instance_tags = merge(local.tags, {
    Name       = var.name
    Delivery   = var.delivery
    AppVersion = var.delivery == "ami" ? var.ami_version : var.container_image_tag
    AppCommit  = var.delivery == "ami" ? var.ami_commit : ""
  })

  is_container = var.delivery == "container"

  # What a healthy instance needs after it is InService, per delivery path (see compute.tf for why):
  # the AMI path only boots the OS and starts a unit that is READY in milliseconds; the container
  # path also installs Docker (up to ~60 s), retries the image pull for up to 90 s (its user data) and
  # starts it: 180 s covers both and the two health checks. tests/container.tftest.hcl keeps them agreed.
  boot_budget_seconds = {
    ami       = 60
    container = 180
  }
  grace_period     = coalesce(var.health_check_grace_period, local.boot_budget_seconds[var.delivery])
  instance_warmup  = coalesce(var.default_instance_warmup, local.boot_budget_seconds[var.delivery])
  drain_seconds    = local.contract.drain_delay_seconds
  shutdown_seconds = local.contract.shutdown_timeout_seconds

  # Empty on the AMI path (no repository); join() instead of [0] so the expression is valid either way.
  repository_url = join("", aws_ecr_repository.this[*].repository_url)
}

# The user data per delivery path, rendered with no provider (packer/test/image-test.sh boots the same
# module's output under cloud-init).
module "user_data" {
  source = "./modules/user-data"

  env_file         = local.contract.env_file
  unit             = local.contract.unit
  name             = local.contract.name
  port             = local.contract.port
  drain_seconds    = local.drain_seconds
  shutdown_seconds = local.shutdown_seconds
  log_level        = var.log_level
  stress_enabled   = var.stress_enabled
  stress_token     = var.stress_token
  region           = var.region
  repository_url   = local.repository_url
  image_tag        = var.container_image_tag
}
