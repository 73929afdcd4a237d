################################################################################
# CloudWatch dashboard: the demo at a glance
################################################################################

locals {
  dashboard_name = var.name
  # The scaling thresholds drawn on the CPU graph, for whichever scaling mode is on.
  cpu_annotations = var.scaling_mode == "target_tracking" ? [
    { label = "target (scaling)", value = var.cpu_target },
    ] : [
    { label = "scale out above", value = var.cpu_high_threshold },
    { label = "scale in below", value = var.cpu_low_threshold },
  ]
  asg_dim = ["AutoScalingGroupName", aws_autoscaling_group.app.name]
  tg_dims = ["TargetGroup", aws_lb_target_group.app.arn_suffix, "LoadBalancer", aws_lb.this.arn_suffix]
  lb_dim  = ["LoadBalancer", aws_lb.this.arn_suffix]

  # One 12 x 6 graph per question the demo asks; 1-minute points (the group and instances publish
  # 1-minute metrics, see compute.tf).
  dashboard_widgets = [
    {
      title       = "Average CPU of the group (%)"
      stat        = "Average"
      yAxis       = { left = { min = 0, max = 100 } }
      annotations = { horizontal = local.cpu_annotations }
      metrics     = [concat(["AWS/EC2", "CPUUtilization"], local.asg_dim)]
    },
    {
      title = "Instances: desired, in service, pending"
      stat  = "Average"
      metrics = [
        concat(["AWS/AutoScaling", "GroupDesiredCapacity"], local.asg_dim),
        concat(["AWS/AutoScaling", "GroupInServiceInstances"], local.asg_dim),
        concat(["AWS/AutoScaling", "GroupPendingInstances"], local.asg_dim),
      ]
    },
    {
      title = "Target group: healthy and unhealthy hosts"
      stat  = "Minimum"
      metrics = [
        concat(["AWS/ApplicationELB", "HealthyHostCount"], local.tg_dims),
        concat(["AWS/ApplicationELB", "UnHealthyHostCount"], local.tg_dims),
      ]
    },
    {
      title = "Requests and 5xx (per minute)"
      stat  = "Sum"
      metrics = [
        concat(["AWS/ApplicationELB", "RequestCount"], local.lb_dim),
        concat(["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count"], local.lb_dim),
        concat(["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"], local.lb_dim),
      ]
    },
    {
      title = "Target response time (s): p99 and average"
      stat  = "p99"
      metrics = [
        concat(["AWS/ApplicationELB", "TargetResponseTime"], local.lb_dim),
        concat(["AWS/ApplicationELB", "TargetResponseTime"], local.lb_dim, [{ stat = "Average" }]),
      ]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({
    widgets = [for i, w in local.dashboard_widgets : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = floor(i / 2) * 6
      width  = 12
      height = 6
      properties = merge({
        region = var.region
        view   = "timeSeries"
        period = 60
      }, w)
    }]
  })
}
