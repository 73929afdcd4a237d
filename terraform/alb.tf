################################################################################
# Application Load Balancer, target group and listeners
################################################################################

locals {
  https = var.certificate_arn != ""
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
}

resource "aws_lb_target_group" "app" {
  name        = var.name
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
  # - timeout 2 s (the ALB's minimum) is 200x that budget: it only fires on a wedged process or a dead
  #   instance, never on a busy one. Busy-but-healthy instances are therefore not replaced, the failure
  #   mode of services whose health check shares a saturated thread pool.
  # - interval 5 s (the minimum) and healthy_threshold 2: a new instance takes traffic about 10 s after
  #   its first 200. The binary is READY in milliseconds, waiting longer would only delay scale-out.
  # - unhealthy_threshold 2: 2 x 5 s = 10 s < DRAIN_DELAY (15 s). When the service starts draining
  #   (/health -> 503 on SIGTERM, e.g. systemctl restart) the ALB takes it out of rotation before it
  #   stops accepting connections.
  # contract/terraform_test.go checks these relations against contract/contract.json.
  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = local.contract.health_path
    matcher             = "200"
    interval            = 5
    timeout             = 2
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = {
    Name = var.name
  }
}

# Accepted: plain HTTP is the demo's default (no domain, no certificate). With certificate_arn set this
# listener only redirects to HTTPS.
#tfsec:ignore:aws-elb-http-not-used
resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.https ? "redirect" : "forward"
    target_group_arn = local.https ? null : aws_lb_target_group.app.arn

    dynamic "redirect" {
      for_each = local.https ? [1] : []
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
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
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
}
