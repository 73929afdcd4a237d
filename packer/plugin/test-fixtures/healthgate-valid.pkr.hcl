# Every argument of both components: packer validate must accept them.
packer {
  required_plugins {
    scaleapp = {
      source  = "github.com/scaleapp/scaleapp"
      version = ">= 0.1.0"
    }
  }
}

source "null" "local" {
  communicator = "none"
}

build {
  sources = ["source.null.local"]

  provisioner "scaleapp-healthgate" {
    unit          = "scaleapp.service"
    url           = "http://127.0.0.1:8080/health"
    expected_body = "UP"
    ready_timeout = "60s"
    journal_lines = 100
    # Packer's own per-provisioner limit, accepted on every provisioner; it cancels the gate.
    timeout = "90s"
  }

  post-processor "scaleapp-tfvars" {
    output       = "ami.auto.tfvars.json"
    variable     = "ami_id"
    region       = "us-east-1"
    version      = "1.0.0"
    commit       = "0123abc"
    architecture = "arm64"
  }
}
