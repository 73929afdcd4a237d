# A ready_timeout that is not a duration: packer validate must reject it (the provisioner's Prepare).
source "null" "local" {
  communicator = "none"
}

build {
  sources = ["source.null.local"]

  provisioner "scaleapp-healthgate" {
    ready_timeout = "sixty"
  }
}
