# The user data of the launch template, rendered without any provider: the root module passes the
# result to aws_launch_template, and the image boot test (packer/test/image-test.sh) renders the same
# module through a throw-away root and boots it under real cloud-init, so the test runs exactly what an
# instance gets. The templates stay in terraform/templates/.

locals {
  templates = "${path.module}/../../templates"

  # /etc/scaleapp/env, the same settings on both paths: systemd reads it (EnvironmentFile=) on the
  # AMI path, docker run --env-file on the container path. KEY=value lines, no quotes (both accept that).
  env_lines = concat([
    "PORT=${var.port}",
    "DRAIN_DELAY=${var.drain_seconds}s",
    "SHUTDOWN_TIMEOUT=${var.shutdown_seconds}s",
    "LOG_LEVEL=${var.log_level}",
    "STRESS_ENABLED=${var.stress_enabled}",
  ], var.stress_token == "" ? [] : ["STRESS_TOKEN=${var.stress_token}"])
  env_file_content = join("\n", local.env_lines)

  # No downloads: the binary and unit are in the AMI, this only hands over the settings, before the
  # unit's first start (a cloud-init boothook; see the template).
  ami = templatefile("${local.templates}/user_data_ami.sh.tftpl", {
    env_file = var.env_file
    env      = local.env_file_content
    unit     = var.unit
  })
  container = templatefile("${local.templates}/user_data_container.sh.tftpl", {
    env_file = var.env_file
    env      = local.env_file_content
    name     = var.name
    port     = var.port
    region   = var.region
    registry = split("/", var.repository_url)[0]
    image    = "${var.repository_url}:${var.image_tag}"
    # docker stop's default 10 s would SIGKILL the service in the middle of its drain.
    stop_timeout = var.drain_seconds + var.shutdown_seconds + 5
  })
}
