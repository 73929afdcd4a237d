# Inputs of the user data: the settings the instance gets in /etc/scaleapp/env, and where the container
# path pulls its image from. The root module passes them from contract.json and its own variables;
# packer/test/image-test.sh passes test values and boots the result under cloud-init.

variable "env_file" {
  type        = string
  description = "Path of the env file the unit reads (contract env_file)."
}

variable "unit" {
  type        = string
  description = "systemd unit of the service (contract unit)."
}

variable "name" {
  type        = string
  description = "Container name on the container path (contract name)."
}

variable "port" {
  type        = number
  description = "Port the service listens on (PORT)."
}

variable "drain_seconds" {
  type        = number
  description = "DRAIN_DELAY in seconds: /health answers 503 this long before the listener closes."
}

variable "shutdown_seconds" {
  type        = number
  description = "SHUTDOWN_TIMEOUT in seconds, after the drain."
}

variable "log_level" {
  type        = string
  description = "LOG_LEVEL."
}

variable "stress_enabled" {
  type        = bool
  description = "STRESS_ENABLED."
}

variable "stress_token" {
  type        = string
  description = "STRESS_TOKEN; empty: no line (the endpoints need no token)."
  sensitive   = true
}

variable "region" {
  type        = string
  description = "Region of the ECR registry (container path)."
}

variable "repository_url" {
  type        = string
  description = "ECR repository URL (container path; empty on the AMI path)."
}

variable "image_tag" {
  type        = string
  description = "Image tag to run (container path)."
}
