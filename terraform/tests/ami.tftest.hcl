# The default stack (delivery = "ami", target tracking, HTTP), planned and applied against the mocked
# AWS provider (tests/aws): the values that decide security, health and scaling, not their presence.

mock_provider "aws" {
  source = "./tests/aws"
}

# Pinned so a bake's ami.auto.tfvars.json in terraform/ cannot change what these runs see.
variables {
  ami_id           = ""
  ami_ids          = {}
  ami_architecture = ""
}

run "default_stack" {
  # Instances: the only way in is the contract port from the ALB's group; no port 22 on any rule.
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.instances_from_alb.security_group_id == aws_security_group.instances.id &&
      aws_vpc_security_group_ingress_rule.instances_from_alb.referenced_security_group_id == aws_security_group.alb.id &&
      aws_vpc_security_group_ingress_rule.instances_from_alb.cidr_ipv4 == null &&
      aws_vpc_security_group_ingress_rule.instances_from_alb.ip_protocol == "tcp" &&
      aws_vpc_security_group_ingress_rule.instances_from_alb.from_port == local.contract.port &&
      aws_vpc_security_group_ingress_rule.instances_from_alb.to_port == local.contract.port
    )
    error_message = "The instances' ingress must be tcp/${local.contract.port} from the ALB's security group only."
  }
  assert {
    # Inline rules would bypass the rule resources above.
    condition     = length(aws_security_group.instances.ingress) == 0 && length(aws_security_group.alb.ingress) == 0
    error_message = "No inline ingress rules: every way in is one aws_vpc_security_group_ingress_rule."
  }
  assert {
    condition = alltrue([
      for r in concat(values(aws_vpc_security_group_ingress_rule.alb_http), values(aws_vpc_security_group_ingress_rule.alb_https), [aws_vpc_security_group_ingress_rule.instances_from_alb]) :
      r.ip_protocol == "tcp" && !(r.from_port <= 22 && r.to_port >= 22)
    ]) && aws_launch_template.app.key_name == null
    error_message = "Port 22 is open somewhere or the launch template has a key pair: operators use SSM Session Manager."
  }
  assert {
    condition     = [for r in values(aws_vpc_security_group_ingress_rule.alb_http) : [r.from_port, r.cidr_ipv4]] == [[80, "0.0.0.0/0"]] && length(aws_vpc_security_group_ingress_rule.alb_https) == 0
    error_message = "Without a certificate the ALB admits HTTP (80) from alb_ingress_cidrs and nothing on 443."
  }

  # IMDSv2 only, hop limit 1: the role's credentials stay on the host.
  assert {
    condition = (
      aws_launch_template.app.metadata_options[0].http_tokens == "required" &&
      aws_launch_template.app.metadata_options[0].http_endpoint == "enabled" &&
      aws_launch_template.app.metadata_options[0].http_put_response_hop_limit == 1
    )
    error_message = "AMI path: IMDSv2 required with hop limit 1."
  }

  # The ASG runs the template's latest_version (a number), so a new version is a diff and a refresh.
  assert {
    condition = (
      aws_autoscaling_group.app.launch_template[0].id == aws_launch_template.app.id &&
      aws_autoscaling_group.app.launch_template[0].version == tostring(aws_launch_template.app.latest_version)
    )
    error_message = "The ASG must run aws_launch_template.app at its latest_version (${aws_launch_template.app.latest_version}), not ${aws_autoscaling_group.app.launch_template[0].version}."
  }
  assert {
    condition = (
      aws_autoscaling_group.app.health_check_type == "ELB" &&
      aws_autoscaling_group.app.health_check_grace_period == 60 &&
      aws_autoscaling_group.app.target_group_arns == toset([aws_lb_target_group.app.arn]) &&
      aws_launch_template.app.image_id == "ami-0123456789abcdef0"
    )
    error_message = "The ASG heals on the ALB's verdict after 60 s, in this target group, on the golden AMI."
  }

  # Target group: the contract's health check and drain.
  assert {
    condition = (
      aws_lb_target_group.app.port == local.contract.port &&
      aws_lb_target_group.app.health_check[0].path == local.contract.health_path &&
      aws_lb_target_group.app.health_check[0].matcher == "200" &&
      aws_lb_target_group.app.health_check[0].interval == local.contract.health_check.interval_seconds &&
      aws_lb_target_group.app.health_check[0].timeout == local.contract.health_check.timeout_seconds &&
      aws_lb_target_group.app.health_check[0].healthy_threshold == local.contract.health_check.healthy_threshold &&
      aws_lb_target_group.app.health_check[0].unhealthy_threshold == local.contract.health_check.unhealthy_threshold
    )
    error_message = "The target group's port and health check must be contract.json's (port, health_path, health_check.*), matcher 200 only."
  }
  assert {
    condition     = aws_lb_target_group.app.deregistration_delay == tostring(local.contract.drain_delay_seconds)
    error_message = "deregistration_delay (${aws_lb_target_group.app.deregistration_delay}) must be the service's drain, ${local.contract.drain_delay_seconds} s."
  }
  # Replaceable while the listener points at it: a generated name (see the Go check for create_before_destroy).
  assert {
    condition     = aws_lb_target_group.app.name_prefix == "scale-"
    error_message = "The target group needs a generated name (name_prefix), got name_prefix ${coalesce(aws_lb_target_group.app.name_prefix, "null")}."
  }

  # Safe by default: the serving listener answers 403 unless a rule lets the request in; the only rule
  # is the public one, and its exact paths leave out /cpu and /health/fail.
  assert {
    condition = (
      aws_lb_listener.http.default_action[0].type == "fixed-response" &&
      try(aws_lb_listener.http.default_action[0].fixed_response[0].status_code, "none") == "403" &&
      length(aws_lb_listener_rule.stress_clients) == 0 &&
      aws_lb_listener_rule.public.listener_arn == aws_lb_listener.http.arn &&
      aws_lb_listener_rule.public.action[0].type == "forward" &&
      aws_lb_listener_rule.public.action[0].target_group_arn == aws_lb_target_group.app.arn
    )
    error_message = "With the default variables the HTTP listener must answer 403 to everything but the public rule."
  }
  assert {
    condition = (
      !contains(one(aws_lb_listener_rule.public.condition).path_pattern[0].values, "/cpu") &&
      !contains(one(aws_lb_listener_rule.public.condition).path_pattern[0].values, "${local.contract.health_path}/fail") &&
      alltrue([for p in one(aws_lb_listener_rule.public.condition).path_pattern[0].values : !strcontains(p, "*") && !strcontains(p, "?")]) &&
      contains(one(aws_lb_listener_rule.public.condition).path_pattern[0].values, local.contract.health_path)
    )
    error_message = "The public paths must be exact (no wildcard), include the health path and leave out /cpu and /health/fail: ${jsonencode(one(aws_lb_listener_rule.public.condition).path_pattern[0].values)}."
  }

  # Target tracking only, on the group's average CPU.
  assert {
    condition = (
      aws_autoscaling_policy.cpu_target[0].target_tracking_configuration[0].target_value == 50 &&
      aws_autoscaling_policy.cpu_target[0].target_tracking_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ASGAverageCPUUtilization" &&
      aws_autoscaling_policy.cpu_target[0].autoscaling_group_name == aws_autoscaling_group.app.name &&
      length(aws_cloudwatch_metric_alarm.cpu_high) == 0 && length(aws_autoscaling_policy.step_out) == 0
    )
    error_message = "Default scaling: target tracking at 50 % average CPU of this group, no alarms."
  }

  # Nothing of the container path.
  assert {
    condition     = length(aws_ecr_repository.this) == 0 && length(aws_iam_role_policy.ecr_pull) == 0 && output.ecr_repository_url == null
    error_message = "The AMI path creates no ECR repository and no pull permission."
  }

  # The ALB waits for the internet gateway (see also the Go check): the subnets it gets are the public ones.
  assert {
    condition     = aws_lb.this.internal == false && toset(aws_lb.this.subnets) == toset(aws_subnet.public[*].id) && length(aws_subnet.public) == 2
    error_message = "An internet-facing ALB in the two public subnets."
  }
}

run "dashboard_watches_this_stack" {
  assert {
    condition = (
      aws_cloudwatch_dashboard.this.dashboard_name == "scaleapp" &&
      output.dashboard_url == "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/scaleapp"
    )
    error_message = "dashboard_url must open this stack's dashboard: ${output.dashboard_url}"
  }
  assert {
    # Every metric of every widget names this stack's group, target group or load balancer.
    condition = alltrue(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for m in w.properties.metrics : (
          (contains(m, "AutoScalingGroupName") && contains(m, aws_autoscaling_group.app.name)) ||
          (contains(m, "LoadBalancer") && contains(m, aws_lb.this.arn_suffix))
        )
      ]
    ]))
    error_message = "A dashboard metric does not name this stack's ASG or ALB."
  }
  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [for m in w.properties.metrics : "${m[0]}/${m[1]}"]
      ])) == toset([
      "AWS/EC2/CPUUtilization", "AWS/AutoScaling/GroupDesiredCapacity", "AWS/AutoScaling/GroupInServiceInstances",
      "AWS/AutoScaling/GroupPendingInstances", "AWS/ApplicationELB/HealthyHostCount", "AWS/ApplicationELB/UnHealthyHostCount",
      "AWS/ApplicationELB/RequestCount", "AWS/ApplicationELB/HTTPCode_ELB_5XX_Count", "AWS/ApplicationELB/HTTPCode_Target_5XX_Count",
      "AWS/ApplicationELB/TargetResponseTime",
    ])
    error_message = "The dashboard must show group CPU, desired/in-service/pending, healthy/unhealthy hosts, requests, 5xx and response time."
  }
  assert {
    condition = alltrue(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : [
        for m in w.properties.metrics : m[1] != "HealthyHostCount" && m[1] != "UnHealthyHostCount" || (contains(m, "TargetGroup") && contains(m, aws_lb_target_group.app.arn_suffix))
      ]
    ]))
    error_message = "The host-count metrics must name this stack's target group."
  }
  assert {
    condition     = [for a in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets[0].properties.annotations.horizontal : a.value] == [50]
    error_message = "The CPU graph must draw the target tracking target (cpu_target)."
  }
}

# A tighter but still valid VPC: /19 gives the /27 subnets an ALB needs.
run "smallest_vpc" {
  command = plan

  variables {
    vpc_cidr = "10.20.0.0/19"
  }

  assert {
    condition     = [for s in aws_subnet.public : s.cidr_block] == ["10.20.0.0/27", "10.20.0.32/27"]
    error_message = "A /19 VPC must give two /27 subnets."
  }
}

run "stress_clients_reach_everything" {
  variables {
    stress_allowed_cidrs = ["203.0.113.7/32", "198.51.100.0/24", "192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32", "192.0.2.4/32"]
  }

  # Six CIDRs: two rules (the ALB takes 5 values per rule), before the public rule, forwarding everything.
  assert {
    condition = (
      [for r in aws_lb_listener_rule.stress_clients : one(r.condition).source_ip[0].values] == [
        toset(["203.0.113.7/32", "198.51.100.0/24", "192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32"]), toset(["192.0.2.4/32"])
      ] &&
      alltrue([for r in aws_lb_listener_rule.stress_clients : r.priority < aws_lb_listener_rule.public.priority && r.action[0].target_group_arn == aws_lb_target_group.app.arn && length(r.condition) == 1])
    )
    error_message = "stress_allowed_cidrs must become source-ip rules (5 per rule) that forward every path and come before the public rule."
  }
}

# Preconditions: the image's architecture must be one the instance type runs.
run "graviton_type_with_x86_ami" {
  command = plan

  variables {
    instance_type = "t4g.micro"
  }

  override_data {
    target = data.aws_ec2_instance_type.app
    values = {
      supported_architectures = ["arm64"]
    }
  }

  expect_failures = [aws_launch_template.app]
}

run "bake_tfvars_disagrees_with_ami" {
  command = plan

  variables {
    ami_architecture = "arm64"
  }

  expect_failures = [aws_launch_template.app]
}

run "bake_tfvars_agrees_with_ami" {
  command = plan

  variables {
    ami_architecture = "x86_64"
  }

  assert {
    condition     = aws_launch_template.app.instance_type == "t3.micro"
    error_message = "An x86_64 bake on t3.micro must plan."
  }
}
