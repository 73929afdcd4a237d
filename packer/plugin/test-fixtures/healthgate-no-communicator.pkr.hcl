# The health gate needs a communicator to reach the instance: with none the build must fail clearly.
source "null" "local" {
  communicator = "none"
}

build {
  sources = ["source.null.local"]

  provisioner "scaleapp-healthgate" {
    ready_timeout = "5s"
  }
}
