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

  # /etc/scaleapp/env, the same settings on both paths: systemd reads it (EnvironmentFile=) on the
  # AMI path, docker run --env-file on the container path. KEY=value lines, no quotes (both accept that).
  env_lines = concat([
    "PORT=${local.contract.port}",
    "DRAIN_DELAY=${local.drain_seconds}s",
    "SHUTDOWN_TIMEOUT=${local.shutdown_seconds}s",
    "LOG_LEVEL=${var.log_level}",
    "STRESS_ENABLED=${var.stress_enabled}",
  ], var.stress_token == "" ? [] : ["STRESS_TOKEN=${var.stress_token}"])
  env_file_content = join("\n", local.env_lines)

  # Empty on the AMI path (no repository); join() instead of [0] so the expression is valid either way.
  repository_url = join("", aws_ecr_repository.this[*].repository_url)

  user_data = {
    # No downloads: the binary and unit are in the AMI, this only hands over the settings, before the
    # unit's first start (a cloud-init boothook; see the template).
    ami = templatefile("${path.module}/templates/user_data_ami.sh.tftpl", {
      env_file = local.contract.env_file
      env      = local.env_file_content
      unit     = local.contract.unit
    })
    container = templatefile("${path.module}/templates/user_data_container.sh.tftpl", {
      env_file = local.contract.env_file
      env      = local.env_file_content
      name     = local.contract.name
      port     = local.contract.port
      region   = var.region
      registry = split("/", local.repository_url)[0]
      image    = "${local.repository_url}:${var.container_image_tag}"
      # docker stop's default 10 s would SIGKILL the service in the middle of its drain.
      stop_timeout = local.drain_seconds + local.shutdown_seconds + 5
    })
  }
}
