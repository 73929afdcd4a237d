# Every variable validation rejects a bad value. A run may set several independent bad values: it passes
# only if each listed variable's validation fails and nothing else does, so a validation that stops
# rejecting its value fails the run ("missing expected failure") while the suite stays a few plans long.
# Validations of the same variable (or that depend on each other) are in different runs.
# contract/terraform_test.go checks that every variable with a validation appears here.

mock_provider "aws" {
  source = "./tests/aws"
}

variables {
  ami_id           = ""
  ami_ids          = {}
  ami_architecture = ""
}

run "malformed_values" {
  command = plan

  variables {
    region                                  = "Ireland"
    name                                    = "ScaleApp"
    vpc_cidr                                = "10.0.0.0/20" # /28 subnets: valid for EC2, too small for an ALB (/27)
    alb_ingress_cidrs                       = []
    ami_id                                  = "ami-XYZ"
    ami_ids                                 = { "Ireland" = "ami-0123456789abcdef0" }
    ami_architecture                        = "amd64" # AWS says x86_64
    container_host_ami_parameter            = "/aws/service/ami-amazon-linux-latest/al2023-ami-minimal-kernel-default-x86_64"
    stress_token                            = "a b"
    log_level                               = "trace"
    instance_type                           = "micro"
    scaling_mode                            = "predictive"
    root_volume_size                        = 8.5
    ecr_keep_images                         = 2.5
    health_check_grace_period               = 60.5
    default_instance_warmup                 = 30.5
    instance_refresh_min_healthy_percentage = 90.5
    warm_pool_min_size                      = 1.5
    cpu_target                              = 50.5
    cpu_high_threshold                      = 70.5
  }

  expect_failures = [
    var.region, var.name, var.vpc_cidr, var.alb_ingress_cidrs, var.ami_id, var.ami_ids,
    var.ami_architecture, var.container_host_ami_parameter, var.stress_token,
    var.log_level, var.instance_type, var.scaling_mode, var.root_volume_size, var.ecr_keep_images,
    var.health_check_grace_period, var.default_instance_warmup, var.instance_refresh_min_healthy_percentage,
    var.warm_pool_min_size, var.cpu_target, var.cpu_high_threshold,
  ]
}

run "second_rules_and_relations" {
  command = plan

  variables {
    name                 = "internal-demo" # AWS refuses ALB names that begin with internal-
    vpc_cidr             = "10.0.0.0/15"
    alb_ingress_cidrs    = ["::/0"]
    certificate_arn      = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000" # not eu-west-1
    public_hostname      = "scaleapp.example.com"
    stress_allowed_cidrs = ["0.0.0.0/0"] # the whole Internet, and no stress_token
    min_size             = 0.5
    cpu_low_threshold    = 70
  }

  expect_failures = [
    var.name, var.vpc_cidr, var.alb_ingress_cidrs, var.certificate_arn, var.stress_allowed_cidrs, var.min_size,
    var.cpu_low_threshold,
  ]
}

# Validations that read other variables are skipped while one of those is invalid itself: these runs
# keep the variables they read valid.
run "values_checked_against_other_variables" {
  command = plan

  variables {
    public_hostname                 = "https://scaleapp.example.com"
    stress_allowed_cidrs            = ["203.0.113.7"]
    desired_capacity                = 1.5
    warm_pool_max_prepared_capacity = 5 # above max_size (4)
  }

  expect_failures = [var.public_hostname, var.stress_allowed_cidrs, var.desired_capacity, var.warm_pool_max_prepared_capacity]
}

run "third_rules" {
  command = plan

  variables {
    vpc_cidr         = "fd00::/56"
    certificate_arn  = "arn:aws:iam::123456789012:server-certificate/scaleapp"
    public_hostname  = "scaleapp.example.com"
    max_size         = 2
    min_size         = 3
    desired_capacity = 2
  }

  expect_failures = [var.vpc_cidr, var.certificate_arn, var.max_size]
}

run "certificate_without_hostname" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  }

  expect_failures = [var.public_hostname]
}

run "delivery_unknown" {
  command = plan

  variables {
    delivery = "lambda"
  }

  expect_failures = [var.delivery]
}

run "container_needs_a_tag_and_no_warm_pool" {
  command = plan

  variables {
    delivery            = "container"
    container_image_tag = ""
    enable_warm_pool    = true
  }

  expect_failures = [var.container_image_tag, var.enable_warm_pool]
}
