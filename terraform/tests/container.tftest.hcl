# delivery = "container": Amazon Linux 2023 from SSM, Docker and the image from this stack's ECR
# repository, against the mocked AWS provider (tests/aws).

mock_provider "aws" {
  source = "./tests/aws"
}

variables {
  delivery            = "container"
  container_image_tag = "v1.4.2"
  ami_id              = ""
  ami_ids             = {}
  ami_architecture    = ""
}

run "container_path" {
  # A bridged container is one hop further from IMDS than the host: hop limit 2, still IMDSv2 only.
  assert {
    condition = (
      aws_launch_template.app.metadata_options[0].http_tokens == "required" &&
      aws_launch_template.app.metadata_options[0].http_put_response_hop_limit == 2
    )
    error_message = "Container path: IMDSv2 required with hop limit 2."
  }
  assert {
    condition     = aws_launch_template.app.image_id == "ami-0fedcba9876543210" && aws_autoscaling_group.app.launch_template[0].version == tostring(aws_launch_template.app.latest_version)
    error_message = "The container path boots the AL2023 AMI the SSM parameter names, at the template's latest_version."
  }

  # The instance role pulls from this repository only; the registry login needs "*" (no resource-level
  # permission exists for it) and nothing else does.
  assert {
    condition = (
      aws_iam_role_policy.ecr_pull[0].role == aws_iam_role.app.id &&
      [for s in data.aws_iam_policy_document.ecr_pull[0].statement : s.resources if s.sid == "PullThisRepository"] == [toset([aws_ecr_repository.this[0].arn])] &&
      [for s in data.aws_iam_policy_document.ecr_pull[0].statement : s.actions if s.sid == "RegistryLogin"] == [toset(["ecr:GetAuthorizationToken"])] &&
      alltrue([for s in data.aws_iam_policy_document.ecr_pull[0].statement : s.resources == toset(["*"]) ? s.actions == toset(["ecr:GetAuthorizationToken"]) : true]) &&
      alltrue([for s in data.aws_iam_policy_document.ecr_pull[0].statement : s.effect == "Allow" && alltrue([for a in s.actions : startswith(a, "ecr:")])])
    )
    error_message = "The ECR pull policy must be scoped to this stack's repository (only the login action on \"*\")."
  }

  assert {
    condition     = aws_ecr_repository.this[0].image_tag_mutability == "IMMUTABLE" && aws_ecr_repository.this[0].image_scanning_configuration[0].scan_on_push == true
    error_message = "ECR: immutable tags, scanned on push."
  }

  # The lifecycle policy never expires the tag the fleet runs: a higher-priority rule selects exactly
  # that tag, and ECR never lets a lower-priority rule expire an image a higher one matches.
  assert {
    condition = (
      length([
        for r in jsondecode(aws_ecr_lifecycle_policy.this[0].policy).rules : r
        if r.selection.tagStatus == "tagged" && try(r.selection.tagPatternList, []) == ["v1.4.2"] &&
        r.selection.countType == "imageCountMoreThan" && r.selection.countNumber >= 1 &&
        alltrue([for o in jsondecode(aws_ecr_lifecycle_policy.this[0].policy).rules : o.rulePriority > r.rulePriority if o.selection.tagStatus == "any"])
      ]) == 1 &&
      [for r in jsondecode(aws_ecr_lifecycle_policy.this[0].policy).rules : r.selection.countNumber if r.selection.tagStatus == "any"] == [10]
    )
    error_message = "The ECR lifecycle policy must protect the running tag (v1.4.2) ahead of the keep-the-last-10 rule: ${aws_ecr_lifecycle_policy.this[0].policy}"
  }

  # The user data's pull retries end before the ASG's grace period: Docker install (60 s budget), the
  # retry window plus its last sleep, then two health checks, all within the grace period.
  assert {
    condition = (
      60 +
      tonumber(regex("deadline=\\$\\(\\(SECONDS \\+ ([0-9]+)\\)\\)", base64decode(aws_launch_template.app.user_data))[0]) +
      tonumber(regex("sleep ([0-9]+)", base64decode(aws_launch_template.app.user_data))[0]) +
      local.contract.health_check.interval_seconds * local.contract.health_check.healthy_threshold
      <= aws_autoscaling_group.app.health_check_grace_period
    )
    error_message = "The container user data retries its pull longer than the grace period (${aws_autoscaling_group.app.health_check_grace_period} s) leaves after the Docker install and two health checks."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.app.user_data), "docker pull ${aws_ecr_repository.this[0].repository_url}:v1.4.2")
    error_message = "The container user data must pull this repository's image at container_image_tag."
  }
}

run "graviton_host_on_x86_type" {
  command = plan

  variables {
    container_host_ami_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
  }

  expect_failures = [aws_launch_template.app]
}
