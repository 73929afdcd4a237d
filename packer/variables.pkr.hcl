# Inputs of the bake. Names and numbers shared with the service and Terraform come from
# contract/contract.json (local.contract), not from here.

variable "region" {
  type        = string
  description = "AWS region the AMI is built in (and the ami_id the tfvars file gets)."
  default     = "eu-west-1"
}

variable "ami_regions" {
  type        = list(string)
  description = "Extra regions to copy the finished AMI to (tags are copied along). Empty: build region only."
  default     = []
}

variable "arch" {
  type        = string
  description = "x86_64 (Intel/AMD) or arm64 (Graviton). Selects the AL2023 source AMI, the default instance type and the GOARCH the binary must be built for (make build GOARCH=amd64|arm64)."
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.arch)
    error_message = "The arch must be x86_64 or arm64."
  }
}

variable "kernel_line" {
  type        = string
  description = "AL2023 kernel line of the source AMI (AWS publishes 6.1 and newer lines side by side). Pinned so two bakes get the same kernel; change it on purpose."
  default     = "6.1"
  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+$", var.kernel_line))
    error_message = "The kernel_line must be a kernel line such as 6.1 or 6.12 (no wildcard)."
  }
}

variable "instance_type" {
  type        = string
  description = "Build instance type. Empty: t3.small for x86_64, t4g.small for arm64."
  default     = ""
}

variable "subnet_id" {
  type        = string
  description = "Subnet to launch the build instance in. Null: the region's default VPC."
  default     = null
}

variable "vpc_id" {
  type        = string
  description = "VPC of subnet_id (Packer finds it from the subnet when null)."
  default     = null
}

variable "ssh_source_cidrs" {
  type        = list(string)
  description = "CIDRs the temporary security group admits on SSH. Empty: only this machine's public IP (looked up at checkip.amazonaws.com); set it when Packer reaches the instance privately. When every CIDR is a private range, Packer dials the instance's private IP."
  default     = []
}

variable "ssh_interface" {
  type        = string
  description = "Address Packer dials: public_ip, private_ip, public_dns or private_dns. Empty: private_ip when every ssh_source_cidrs entry is a private range, else public_ip."
  default     = ""
  validation {
    condition     = contains(["", "public_ip", "private_ip", "public_dns", "private_dns"], var.ssh_interface)
    error_message = "The ssh_interface must be public_ip, private_ip, public_dns, private_dns or empty (derived from ssh_source_cidrs)."
  }
}

variable "version" {
  type        = string
  description = "Version of the service being baked (git describe); part of the AMI name and tags."
  default     = "dev"
  validation {
    condition     = can(regex("^[0-9A-Za-z._-]{1,64}$", var.version))
    error_message = "The version may hold only letters, digits, '.', '_' and '-' (it goes into the AMI name)."
  }
}

variable "git_commit" {
  type        = string
  description = "Commit the binary was built from (tag and tfvars)."
  default     = "none"
}

variable "deprecate_after_days" {
  type        = number
  description = "Days after which AWS marks the AMI deprecated (hidden from default listings, still launchable)."
  default     = 90
  validation {
    condition     = var.deprecate_after_days >= 1 && var.deprecate_after_days <= 3650
    error_message = "The deprecate_after_days must be between 1 and 3650 (AWS allows up to 10 years)."
  }
}

variable "binary" {
  type        = string
  description = "The service binary to bake (make build; GOARCH must match arch). Null: bin/scaleapp of this repository."
  default     = null
}

variable "env_file" {
  type        = string
  description = "The env file shipped as /etc/scaleapp/env. Null: scaleapp.env beside this template."
  default     = null
}

variable "tfvars_output" {
  type        = string
  description = "Terraform variables file the tfvars post-processor writes (AWS builds only). Null: terraform/ami.auto.tfvars.json of this repository."
  default     = null
}

variable "manifest_output" {
  type        = string
  description = "Where the manifest post-processor writes the build's artifacts. Null: manifest.json beside this template."
  default     = null
}

# The local bake (source null.local): a systemd container reached over SSH; see test/image-test.sh.
variable "local_ssh_host" {
  type        = string
  description = "Address of the local bake's container."
  default     = "127.0.0.1"
}

variable "local_ssh_port" {
  type        = number
  description = "SSH port of the local bake's container."
  default     = 22
}

variable "local_ssh_key" {
  type        = string
  description = "Private key for ec2-user on the local bake's container. Null: use the SSH agent."
  default     = null
}
