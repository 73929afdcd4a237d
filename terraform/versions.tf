terraform {
  # 1.10: S3 backend native locking (use_lockfile, see backend.tf.example); 1.9: validations that refer
  # to other variables (min <= desired <= max, cpu low < high, container tag required).
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
