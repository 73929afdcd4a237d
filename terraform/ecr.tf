################################################################################
# ECR repository (delivery = "container")
################################################################################

resource "aws_ecr_repository" "this" {
  count = local.is_container ? 1 : 0

  name = var.name
  # Immutable tags: a tag names one image forever, so the launch template's tag means the same bytes
  # on every instance, and a new release is a new tag, i.e. a new template version and a refresh.
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  # Accepted: encrypted with the AWS managed KMS key for ECR; a customer managed key adds a monthly
  # fee and key administration that a demo registry does not need.
  #tfsec:ignore:aws-ecr-repository-customer-key
  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  count = local.is_container ? 1 : 0

  repository = aws_ecr_repository.this[0].name
  # Rule 1 protects the tag the fleet runs: ECR never lets a lower-priority rule expire an image that
  # matches a higher-priority rule's tags, and with immutable tags exactly one image carries it, so
  # "more than 1" never expires it. Without it, ecr_keep_images newer pushes (CI builds, say) would expire
  # the running image, and every instance launched afterwards would fail its pull. Rule 2 then keeps the
  # newest ecr_keep_images of the rest. (The previous tag stops being protected once an apply moves the
  # fleet to a new one; the instances already running keep their pulled copy.)
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Never expire the tag the fleet runs (${var.container_image_tag})"
        selection = {
          tagStatus      = "tagged"
          tagPatternList = [var.container_image_tag]
          countType      = "imageCountMoreThan"
          countNumber    = 1
        }
        action = {
          type = "expire"
        }
      },
      {
        rulePriority = 2
        description  = "Keep the last ${var.ecr_keep_images} images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.ecr_keep_images
        }
        action = {
          type = "expire"
        }
      },
    ]
  })
}
