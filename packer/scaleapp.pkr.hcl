# The golden AMI: Amazon Linux 2023 + the scaleapp binary + its hardened systemd unit, published only
# when the unit, started on the build instance, is active with no restart and answers its health check.
#
#   AWS:   make build GOARCH=amd64 && packer build -only='amazon-ebs.scaleapp' -var version=... packer/
#   local: packer/test/image-test.sh (boots a systemd container and bakes into it via source null.local)

packer {
  required_version = ">= 1.11.0"
  required_plugins {
    amazon = {
      source = "github.com/hashicorp/amazon"
      # Exactly what CI validates and installs (scripts/install-tools.sh AMAZON_PLUGIN_VERSION; the
      # contract test requires both to agree): run_tags and ssh_interface behave as its source says.
      version = "= 1.3.6"
    }
    scaleapp = {
      source  = "github.com/scaleapp/scaleapp"
      version = ">= 0.1.0"
    }
  }
}

locals {
  # The names and numbers shared with the service and Terraform. abspath: with a relative path.root
  # (`packer build packer/`), packer's file() resolves "packer/../contract" to packer/contract.
  contract = jsondecode(file("${abspath(path.root)}/../contract/contract.json"))

  goarch        = { x86_64 = "amd64", arm64 = "arm64" }[var.arch]
  instance_type = var.instance_type != "" ? var.instance_type : { x86_64 = "t3.small", arm64 = "t4g.small" }[var.arch]
  binary        = coalesce(var.binary, "${path.root}/../bin/scaleapp")
  env_file      = coalesce(var.env_file, "${path.root}/scaleapp.env")
  tfvars_output = coalesce(var.tfvars_output, "${path.root}/../terraform/${local.contract.tfvars_file}")
  # RFC 1918 ranges and the 100.64.0.0/10 shared space: networks that reach an instance only privately.
  private_cidr  = "^(10|192\\.168|172\\.(1[6-9]|2[0-9]|3[01])|100\\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7]))\\."
  ssh_private   = length(var.ssh_source_cidrs) > 0 && length([for c in var.ssh_source_cidrs : c if !can(regex(local.private_cidr, c))]) == 0
  ssh_interface = var.ssh_interface != "" ? var.ssh_interface : (local.ssh_private ? "private_ip" : "public_ip")
  manifest      = coalesce(var.manifest_output, "${path.root}/manifest.json")

  build_time = timestamp()
  ami_name   = "${local.contract.name}-${var.version}-${var.arch}-${formatdate("YYYYMMDD-hhmmss", local.build_time)}"
  # Where provisioners stage the files install.sh installs (install.sh cleanup removes it).
  staging = "/tmp/scaleapp"
}

source "amazon-ebs" "scaleapp" {
  region        = var.region
  ami_regions   = var.ami_regions
  instance_type = local.instance_type
  subnet_id     = var.subnet_id
  vpc_id        = var.vpc_id

  # The newest AL2023 standard image (not -minimal) of one kernel line, owned by Amazon. A wildcard in
  # the kernel position matches every line AWS ships (6.1, 6.12, ...): most_recent would then change
  # the kernel between two bakes at random.
  source_ami_filter {
    filters = {
      name                = "al2023-ami-2023.*-kernel-${var.kernel_line}-${var.arch}"
      architecture        = var.arch
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }

  ssh_username              = "ec2-user"
  ssh_clear_authorized_keys = true
  # Dial the address the temporary security group admits: the private IP when Packer reaches the VPC
  # privately (VPN, peering, a runner inside it), else the public one. Without it Packer dials the
  # public IP whenever the subnet gives one, and a private-only rule times the build out.
  ssh_interface = local.ssh_interface
  # SSH from this machine only: its public IP, or the CIDRs given (e.g. a VPN range).
  temporary_security_group_source_public_ip = length(var.ssh_source_cidrs) == 0
  temporary_security_group_source_cidrs     = length(var.ssh_source_cidrs) > 0 ? var.ssh_source_cidrs : null

  # IMDSv2 only on the build instance, as on the ASG's instances; the AMI asks for the same.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  imds_support = "v2.0"

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_type           = "gp3"
    volume_size           = 8
    encrypted             = true
    delete_on_termination = true
  }

  ami_name        = local.ami_name
  ami_description = "${local.contract.name} ${var.version} (${var.git_commit}) on Amazon Linux 2023, ${var.arch}"
  deprecate_at    = timeadd(local.build_time, "${var.deprecate_after_days * 24}h")
  tags = {
    Name                         = local.ami_name
    (local.contract.ami_tag_key) = local.contract.ami_tag_value
    version                      = var.version
    git_commit                   = var.git_commit
    arch                         = var.arch
    source_ami                   = "{{ .SourceAMI }}"
    source_ami_name              = "{{ .SourceAMIName }}"
    build_time                   = local.build_time
  }
  # Not the contract tag: v1.3.6 also puts run_tags on the AMI and its region copies at creation, before
  # deprecation and the IMDS setting are applied, so a build failing after that would leave a tagged AMI
  # that Terraform's lookup picks. `tags` are applied by the last step, to a complete AMI.
  run_tags = {
    Name = "packer-${local.ami_name}"
  }
}

# The local bake: the same provisioners against a booted systemd container (packer/test/image-test.sh).
source "null" "local" {
  communicator         = "ssh"
  ssh_host             = var.local_ssh_host
  ssh_port             = var.local_ssh_port
  ssh_username         = "ec2-user" # as on AL2023: install.sh and the gate go through sudo -n
  ssh_private_key_file = var.local_ssh_key
  ssh_agent_auth       = var.local_ssh_key == null
  ssh_timeout          = "1m"
}

build {
  sources = ["source.amazon-ebs.scaleapp", "source.null.local"]

  # The binary must match the instance's CPU: refuse an amd64 build on Graviton and the reverse. (A
  # missing binary stops the build before this: Packer checks the file provisioner's sources first.)
  provisioner "shell-local" {
    inline = [
      "want=${local.goarch}; bin='${local.binary}'",
      "m=$(od -An -tx1 -j18 -N2 \"$bin\" | tr -d ' \\n')",
      "case $m in 3e00) got=amd64 ;; b700) got=arm64 ;; *) got=\"unknown (ELF machine $m)\" ;; esac",
      "[ \"$got\" = \"$want\" ] || { echo \"$bin is built for $got but arch ${var.arch} needs $want: run make build GOARCH=$want\" >&2; exit 1; }",
    ]
  }

  provisioner "shell" {
    inline = ["rm -rf ${local.staging} && mkdir -p ${local.staging}"]
  }

  provisioner "file" {
    sources     = [local.binary, "${path.root}/${local.contract.unit}", "${path.root}/install.sh", local.env_file]
    destination = "${local.staging}/"
  }

  provisioner "shell" {
    inline = ["bash ${local.staging}/install.sh --bin ${local.staging}/${basename(local.binary)} --env ${local.staging}/${basename(local.env_file)} install"]
  }

  # (Re)start the unit and require active/running, no restart and 200 UP on /health; on failure the
  # build fails with the unit's journal, so no AMI is made from a broken bake.
  provisioner "scaleapp-healthgate" {
    unit          = local.contract.unit
    url           = "http://127.0.0.1:${local.contract.port}${local.contract.health_path}"
    expected_body = local.contract.health_ok_body
    # The gate's own budget for restart + active/running + healthy; Packer's timeout bounds it from
    # outside (it cancels the gate, which still prints the journal).
    ready_timeout = "60s"
    timeout       = "90s"
  }

  # Last: leave nothing instance-specific in the image (machine-id, journal, logs, cloud-init state).
  provisioner "shell" {
    inline = ["bash ${local.staging}/install.sh cleanup"]
  }

  post-processor "manifest" {
    output     = local.manifest
    strip_path = true
    custom_data = {
      version    = var.version
      git_commit = var.git_commit
      arch       = var.arch
    }
  }

  # Hands the new AMI to Terraform: terraform apply right after packer build uses it.
  post-processor "scaleapp-tfvars" {
    only         = ["amazon-ebs.scaleapp"]
    output       = local.tfvars_output
    variable     = local.contract.ami_variable
    region       = var.region
    architecture = var.arch
    version      = var.version
    commit       = var.git_commit
  }
}
