terraform {
  # No provider: templatefile() only, so `terraform init` works offline.
  required_version = ">= 1.10"
}
