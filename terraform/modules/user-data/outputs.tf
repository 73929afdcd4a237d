# Sensitive: the scripts carry STRESS_TOKEN when one is set.

output "ami" {
  description = "User data of the AMI path: a cloud-init boothook that writes the env file before the unit starts."
  value       = local.ami
  sensitive   = true
}

output "container" {
  description = "User data of the container path: installs Docker, logs in to ECR, runs the image."
  value       = local.container
  sensitive   = true
}
