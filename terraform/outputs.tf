locals {
  # With HTTPS, the name the certificate covers (variables.tf requires public_hostname then): no ACM
  # certificate can cover the ALB's own DNS name, and port 80 only redirects to 443.
  alb_url = "${local.https ? "https" : "http"}://${var.public_hostname != "" ? var.public_hostname : aws_lb.this.dns_name}"
  # The header /cpu needs when stress_token is set. The token itself stays out of the outputs (export
  # STRESS_TOKEN in your shell); whether one is set is not a secret.
  auth_header = nonsensitive(var.stress_token != "") ? " -H \"Authorization: Bearer $STRESS_TOKEN\"" : ""
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "alb_url" {
  description = "URL of the service: https://public_hostname with a certificate, else http:// and public_hostname or the ALB's DNS name."
  value       = local.alb_url
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the demo: group CPU with the scaling thresholds, instances, target health, requests, 5xx and response time."
  value       = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}

output "target_group_arn" {
  description = "ARN of the target group the instances register in."
  value       = aws_lb_target_group.app.arn
}

output "autoscaling_group_name" {
  description = "Name of the Auto Scaling group."
  value       = aws_autoscaling_group.app.name
}

output "ami_id" {
  description = "AMI the launch template uses: the golden AMI (delivery = \"ami\") or Amazon Linux 2023 (delivery = \"container\")."
  value       = local.image_id
}

output "ami_version" {
  description = "Service version of the golden AMI in use, as written by packer build (empty on the container path)."
  value       = var.delivery == "ami" ? var.ami_version : ""
}

output "launch_template_version" {
  description = "Launch template version the ASG runs; a new one starts an instance refresh."
  value       = aws_launch_template.app.latest_version
}

output "ecr_repository_url" {
  description = "ECR repository to push the image to (delivery = \"container\"); null on the AMI path."
  value       = local.is_container ? local.repository_url : null
}

output "commands" {
  description = "Ready-to-paste commands for this stack."
  value = merge({
    health   = "curl -fsS ${local.alb_url}${local.contract.health_path}"
    identity = "curl -fsS ${local.alb_url}/"
    # The ALB sends each POST to one instance and an instance runs one job at a time (409 for more):
    # several POSTs load every instance, which is what moves the group's average CPU.
    cpu_load    = "for i in $(seq 8); do curl -s -o /dev/null -w '%%{http_code} ' -X POST${local.auth_header} '${local.alb_url}/cpu?seconds=300&load=90'; done; echo"
    watch_asg   = "watch -n 10 \"aws autoscaling describe-auto-scaling-groups --region ${var.region} --auto-scaling-group-names ${aws_autoscaling_group.app.name} --query 'AutoScalingGroups[0].{desired:DesiredCapacity,instances:Instances[].[InstanceId,LifecycleState,HealthStatus]}' --output table\""
    activities  = "aws autoscaling describe-scaling-activities --region ${var.region} --auto-scaling-group-name ${aws_autoscaling_group.app.name} --max-items 5"
    targets     = "aws elbv2 describe-target-health --region ${var.region} --target-group-arn ${aws_lb_target_group.app.arn} --query 'TargetHealthDescriptions[].[Target.Id,TargetHealth.State,TargetHealth.Reason]' --output table"
    refreshes   = "aws autoscaling describe-instance-refreshes --region ${var.region} --auto-scaling-group-name ${aws_autoscaling_group.app.name} --max-records 1"
    ssm_session = "aws ssm start-session --region ${var.region} --target INSTANCE_ID   # then: systemctl status ${local.contract.unit}; journalctl -u ${local.contract.unit}"
    }, local.is_container ? {
    ecr_login  = "aws ecr get-login-password --region ${var.region} | podman login --username AWS --password-stdin ${split("/", local.repository_url)[0]}"
    image_push = "podman push scaleapp:${var.container_image_tag} ${local.repository_url}:${var.container_image_tag}"
  } : {})
}
