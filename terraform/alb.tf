################################################################################
# Application Load Balancer, target group and listeners
################################################################################

locals {
  https = var.certificate_arn != ""
  # The listener that serves the application: HTTPS with a certificate (port 80 then only redirects).
  serving_listener_arn = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http.arn

  # What anyone may reach through the ALB: read-only endpoints, matched exactly (no wildcard, so
  # /health/fail is not /health). Everything else, /cpu and /health/fail above all, answers 403 unless
  # the client is in stress_allowed_cidrs. An allow-list rather than a deny-list of the stress paths: a
  # path the ALB does not recognise (e.g. a percent-encoded /%63pu, which the service decodes to /cpu)
  # fails closed. At most 5 values: the ALB's limit of condition values per rule.
  public_paths = ["/", local.contract.health_path, "/version", "/cpu/status", "/metrics"]
}

# Security groups as a chain: the Internet (alb_ingress_cidrs) -> ALB group -> instance group
# (compute.tf), which admits only the app port and only from this group.
resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  description = "scaleapp load balancer: HTTP(S) in from alb_ingress_cidrs, app port out to the instances"
  vpc_id      = aws_vpc.this.id

  tags = {
    Name = "${var.name}-alb"
  }

  # A replacement group must exist before the old one goes, or the ALB would be left without one.
  lifecycle {
    create_before_destroy = true
  }
}

# Open to the Internet by default on purpose (a public demo endpoint); narrow alb_ingress_cidrs to
# restrict it. tfsec 1.28 does not read aws_vpc_security_group_*_rule resources: the security group
# chain is asserted by contract/terraform_test.go instead.
resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

# As above: HTTPS for the same clients when a certificate is given.
resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = local.https ? toset(var.alb_ingress_cidrs) : toset([])

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

# The ALB talks to nothing but the instances, on the app port (traffic and health checks).
resource "aws_vpc_security_group_egress_rule" "alb_to_instances" {
  security_group_id            = aws_security_group.alb.id
  description                  = "App port to the scaleapp instances"
  ip_protocol                  = "tcp"
  from_port                    = local.contract.port
  to_port                      = local.contract.port
  referenced_security_group_id = aws_security_group.instances.id
}

# Accepted: the service is a public demo; internal = true would hide it from its users.
#tfsec:ignore:aws-elb-alb-not-public
resource "aws_lb" "this" {
  name               = var.name
  internal           = false
  load_balancer_type = "application"
  security_groups    = [aws_security_group.alb.id]
  subnets            = aws_subnet.public[*].id

  # Headers that are not valid HTTP are dropped at the ALB instead of reaching the service (request
  # smuggling defence).
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection

  tags = {
    Name = var.name
  }

  # An internet-facing ALB is refused ("InvalidSubnet: VPC ... has no internet gateway") until the
  # gateway is attached, and nothing in its arguments refers to the gateway: order it explicitly.
  depends_on = [aws_internet_gateway.this, aws_route.internet, aws_route_table_association.public]
}

resource "aws_lb_target_group" "app" {
  # A generated name (prefix + unique suffix, 32 characters at most; the prefix may hold 6): a change
  # that replaces the group (port, protocol, VPC) creates the new one first, the listener and the ASG
  # move to it, then the old one goes. With a fixed name AWS refuses the second group, and without
  # create_before_destroy the old one cannot be deleted while the listener still forwards to it
  # (ResourceInUse).
  name_prefix = "${substr(var.name, 0, 5)}-"
  vpc_id      = aws_vpc.this.id
  target_type = "instance"
  protocol    = "HTTP"
  port        = local.contract.port

  # Equal to the service's DRAIN_DELAY: when the ASG removes an instance the ALB stops sending it new
  # requests and waits this long for the ones in flight; the service itself keeps serving for the same
  # time after SIGTERM. A longer delay only slows every scale-in and refresh; a shorter one cuts requests.
  deregistration_delay = local.contract.drain_delay_seconds

  # Tuned for this service, whose /health answers in < 2 ms at p99 even with every core at 100 % (the
  # CPU burners run on idle-priority threads; the contract's budget is health_budget_ms = 10 ms):
  # The numbers are contract.json's health_check (the local HAProxy lab reads the same ones):
  # - timeout 2 s (the ALB's minimum) is 200x that budget: it only fires on a wedged process or a dead
  #   instance, never on a busy one. Busy-but-healthy instances are therefore not replaced, the failure
  #   mode of services whose health check shares a saturated thread pool.
  # - interval 5 s (the minimum) and healthy_threshold 2: a new instance takes traffic about 10 s after
  #   its first 200. The binary is READY in milliseconds, waiting longer would only delay scale-out.
  # - unhealthy_threshold 2: 2 x 5 s = 10 s < DRAIN_DELAY (15 s). When the service starts draining
  #   (/health -> 503 on SIGTERM, e.g. systemctl restart) the ALB takes it out of rotation before it
  #   stops accepting connections.
  # contract/terraform_test.go checks these relations on contract.json; tests/ check the plan reads them.
  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = local.contract.health_path
    matcher             = "200"
    interval            = local.contract.health_check.interval_seconds
    timeout             = local.contract.health_check.timeout_seconds
    healthy_threshold   = local.contract.health_check.healthy_threshold
    unhealthy_threshold = local.contract.health_check.unhealthy_threshold
  }

  tags = {
    Name = var.name
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Accepted: plain HTTP is the demo's default (no domain, no certificate). With certificate_arn set this
# listener only redirects to HTTPS.
#tfsec:ignore:aws-elb-http-not-used
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  # Without a certificate this is the serving listener: 403 unless a rule below lets the request in.
  default_action {
    type = local.https ? "redirect" : "fixed-response"

    dynamic "redirect" {
      for_each = local.https ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }

    dynamic "fixed_response" {
      for_each = local.https ? [] : [1]
      content {
        content_type = "application/json"
        message_body = local.forbidden_body
        status_code  = "403"
      }
    }
  }
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  # TLS 1.2 and 1.3 only, forward-secret ciphers.
  ssl_policy      = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn = var.certificate_arn

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = local.forbidden_body
      status_code  = "403"
    }
  }
}

################################################################################
# Who reaches what: public read-only paths for everyone, the rest for stress_allowed_cidrs
################################################################################

locals {
  # The service's own error shape ({"error": ...}), so clients parse one format.
  forbidden_body = jsonencode({ error = "not reachable through the load balancer from this address: /cpu and /health/fail are open only to stress_allowed_cidrs (see terraform/README.md)" })
}

# Clients in stress_allowed_cidrs reach every path, the stress endpoints included (the service still asks
# for the token when stress_token is set). One rule per 5 CIDRs: the ALB's limit of values per rule.
resource "aws_lb_listener_rule" "stress_clients" {
  count = length(chunklist(var.stress_allowed_cidrs, 5))

  listener_arn = local.serving_listener_arn
  priority     = 10 + count.index

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }

  condition {
    source_ip {
      values = chunklist(var.stress_allowed_cidrs, 5)[count.index]
    }
  }
}

resource "aws_lb_listener_rule" "public" {
  listener_arn = local.serving_listener_arn
  priority     = 100

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }

  condition {
    path_pattern {
      values = local.public_paths
    }
  }
}
