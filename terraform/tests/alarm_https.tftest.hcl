# The seed's alarm + step scaling behind HTTPS (examples/alarm-https.tfvars), against the mocked AWS
# provider (tests/aws).

mock_provider "aws" {
  source = "./tests/aws"
}

variables {
  ami_id             = ""
  ami_ids            = {}
  ami_architecture   = ""
  scaling_mode       = "alarm"
  cpu_high_threshold = 70
  cpu_low_threshold  = 30
  certificate_arn    = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  public_hostname    = "scaleapp.example.com"
  alb_ingress_cidrs  = ["203.0.113.0/24"]
  # As examples/alarm-https.tfvars: the stress endpoints for the same clients, behind the token too.
  stress_allowed_cidrs = ["203.0.113.0/24"]
  stress_token         = "t0ken"
}

run "alarms_drive_the_step_policies" {
  # Distinct ARNs, so an alarm wired to the other policy shows.
  override_resource {
    target = aws_autoscaling_policy.step_out
    values = {
      arn = "arn:aws:autoscaling:eu-west-1:123456789012:scalingPolicy:00000000-0000-0000-0000-00000000000a:autoScalingGroupName/scaleapp:policyName/scaleapp-cpu-step-out"
    }
  }
  override_resource {
    target = aws_autoscaling_policy.step_in
    values = {
      arn = "arn:aws:autoscaling:eu-west-1:123456789012:scalingPolicy:00000000-0000-0000-0000-00000000000b:autoScalingGroupName/scaleapp:policyName/scaleapp-cpu-step-in"
    }
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.cpu_high[0].alarm_actions == toset([aws_autoscaling_policy.step_out[0].arn]) &&
      aws_cloudwatch_metric_alarm.cpu_high[0].comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.cpu_high[0].threshold == 70 &&
      aws_cloudwatch_metric_alarm.cpu_high[0].dimensions == tomap({ AutoScalingGroupName = aws_autoscaling_group.app.name }) &&
      [for s in aws_autoscaling_policy.step_out[0].step_adjustment : s.scaling_adjustment] == [1]
    )
    error_message = "cpu_high must fire above 70 % on this group and call the +1 step_out policy."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.cpu_low[0].alarm_actions == toset([aws_autoscaling_policy.step_in[0].arn]) &&
      aws_cloudwatch_metric_alarm.cpu_low[0].comparison_operator == "LessThanThreshold" &&
      aws_cloudwatch_metric_alarm.cpu_low[0].threshold == 30 &&
      aws_cloudwatch_metric_alarm.cpu_low[0].dimensions == tomap({ AutoScalingGroupName = aws_autoscaling_group.app.name }) &&
      [for s in aws_autoscaling_policy.step_in[0].step_adjustment : s.scaling_adjustment] == [-1]
    )
    error_message = "cpu_low must fire below 30 % on this group and call the -1 step_in policy."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.cpu_high[0].metric_name == "CPUUtilization" && aws_cloudwatch_metric_alarm.cpu_high[0].namespace == "AWS/EC2" &&
      aws_autoscaling_policy.step_out[0].autoscaling_group_name == aws_autoscaling_group.app.name &&
      aws_autoscaling_policy.step_in[0].autoscaling_group_name == aws_autoscaling_group.app.name &&
      length(aws_autoscaling_policy.cpu_target) == 0
    )
    error_message = "Alarm mode: EC2 CPU alarms, step policies on this group, no target tracking."
  }
  assert {
    condition     = [for a in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets[0].properties.annotations.horizontal : a.value] == [70, 30]
    error_message = "The dashboard's CPU graph must draw the alarm thresholds."
  }
}

run "https_serves_and_http_redirects" {
  assert {
    condition = (
      aws_lb_listener.https[0].port == 443 && aws_lb_listener.https[0].protocol == "HTTPS" &&
      aws_lb_listener.https[0].certificate_arn == var.certificate_arn &&
      aws_lb_listener.https[0].ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06" &&
      aws_lb_listener.http.default_action[0].type == "redirect" &&
      aws_lb_listener.http.default_action[0].redirect[0].port == "443" &&
      aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS"
    )
    error_message = "With a certificate: HTTPS on 443 with TLS 1.2+, port 80 only redirects."
  }
  # The access rules move to the HTTPS listener, still 403 by default.
  assert {
    condition = (
      aws_lb_listener_rule.public.listener_arn == aws_lb_listener.https[0].arn &&
      [for r in aws_lb_listener_rule.stress_clients : [r.listener_arn, one(r.condition).source_ip[0].values]] == [[aws_lb_listener.https[0].arn, toset(["203.0.113.0/24"])]] &&
      aws_lb_listener.https[0].default_action[0].type == "fixed-response" &&
      try(aws_lb_listener.https[0].default_action[0].fixed_response[0].status_code, "none") == "403"
    )
    error_message = "With HTTPS the public rule, the stress clients' rule and the 403 default belong to the HTTPS listener."
  }
  assert {
    condition = (
      [for r in values(aws_vpc_security_group_ingress_rule.alb_https) : [r.from_port, r.to_port, r.cidr_ipv4]] == [[443, 443, "203.0.113.0/24"]] &&
      [for r in values(aws_vpc_security_group_ingress_rule.alb_http) : [r.from_port, r.cidr_ipv4]] == [[80, "203.0.113.0/24"]]
    )
    error_message = "The ALB admits 80 and 443 from alb_ingress_cidrs only."
  }
  assert {
    condition     = output.alb_url == "https://scaleapp.example.com"
    error_message = "alb_url must use the name the certificate covers: ${output.alb_url}"
  }
}
