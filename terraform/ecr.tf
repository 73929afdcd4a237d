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
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last ${var.ecr_keep_images} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.ecr_keep_images
      }
      action = {
        type = "expire"
      }
    }]
  })
}
