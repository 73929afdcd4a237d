# A misspelt argument: packer validate must reject it (the plugin's generated HCL2 spec).
source "null" "local" {
  communicator = "none"
}

build {
  sources = ["source.null.local"]

  provisioner "scaleapp-healthgate" {
    ready_timout = "60s"
  }
}
