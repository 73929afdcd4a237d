# The null builder's artifact is not an AMI: scaleapp-tfvars must fail the build with a clear error
# and write nothing.
packer {
  required_plugins {
    scaleapp = {
      source  = "github.com/scaleapp/scaleapp"
      version = ">= 0.1.0"
    }
  }
}

variable "output" {
  type = string
}

variable "architecture" {
  type    = string
  default = "x86_64"
}

source "null" "local" {
  communicator = "none"
}

build {
  sources = ["source.null.local"]

  post-processor "scaleapp-tfvars" {
    output       = var.output
    version      = "0.0.0-test"
    commit       = "acceptance"
    architecture = var.architecture
  }
}
