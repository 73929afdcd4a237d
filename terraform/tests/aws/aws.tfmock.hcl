# What AWS would answer for the data sources and computed attributes the plans and assertions read.
# Loaded by every tests/*.tftest.hcl through mock_provider "aws" { source = "./tests/aws" }; a run
# overrides a value where it tests something else (another architecture, say).

mock_data "aws_availability_zones" {
  defaults = {
    names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  }
}

mock_data "aws_partition" {
  defaults = {
    partition = "aws"
  }
}

# The golden AMI: what packer build leaves in the account (x86_64, AL2023's root device).
mock_data "aws_ami" {
  defaults = {
    id               = "ami-0123456789abcdef0"
    architecture     = "x86_64"
    root_device_name = "/dev/xvda"
  }
}

mock_data "aws_ssm_parameter" {
  defaults = {
    insecure_value = "ami-0fedcba9876543210"
  }
}

# t3.micro, the default instance_type.
mock_data "aws_ec2_instance_type" {
  defaults = {
    supported_architectures = ["i386", "x86_64"]
  }
}

mock_resource "aws_lb" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/scaleapp/50dc6c495c0c9188"
    arn_suffix = "app/scaleapp/50dc6c495c0c9188"
    dns_name   = "scaleapp-1234567890.eu-west-1.elb.amazonaws.com"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/scale-20261130/0123456789abcdef"
    arn_suffix = "targetgroup/scale-20261130/0123456789abcdef"
  }
}

mock_resource "aws_ecr_repository" {
  defaults = {
    arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/scaleapp"
    repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/scaleapp"
  }
}

# A template that has been changed a few times: version 1 would hide a hard-coded "1".
mock_resource "aws_launch_template" {
  defaults = {
    id             = "lt-0123456789abcdef0"
    latest_version = 7
  }
}

# A JSON object, as IAM requires of a policy; the assertions read the documents' statements instead.
mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}

# ARNs where the provider validates the references to them.
mock_resource "aws_lb_listener" {
  defaults = {
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/scaleapp/50dc6c495c0c9188/f2f7dc8efc522ab2"
  }
}

mock_resource "aws_iam_instance_profile" {
  defaults = {
    arn = "arn:aws:iam::123456789012:instance-profile/scaleapp-20261130"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/scaleapp-instance-20261130"
  }
}

mock_resource "aws_autoscaling_policy" {
  defaults = {
    arn = "arn:aws:autoscaling:eu-west-1:123456789012:scalingPolicy:0a1b2c3d-0000-0000-0000-000000000000:autoScalingGroupName/scaleapp:policyName/scaleapp-cpu"
  }
}
