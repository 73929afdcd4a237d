################################################################################
# Scaling: target tracking (default) or the seed's alarm + step design
################################################################################

# Target tracking on the group's average CPU. AWS creates and owns the CloudWatch alarms behind it
# (scale-out after 3 one-minute datapoints above target, scale-in after 15 below): with the 1-minute
# detailed monitoring the launch template turns on, it reacts in about 3 minutes instead of the
# 10-15 it takes on 5-minute basic metrics. default_instance_warmup keeps booting instances out of
# the average, so it does not overshoot.
resource "aws_autoscaling_policy" "cpu_target" {
  count = var.scaling_mode == "target_tracking" ? 1 : 0

  name                   = "${var.name}-cpu-target"
  autoscaling_group_name = aws_autoscaling_group.app.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = var.cpu_target
  }
}

# Alarm mode: our own alarms, so the timing is ours too. Out after 2 one-minute periods above the
# high mark (fast: the demo's /cpu load is meant to be seen scaling), in after 5 below the low mark
# (slow: removing capacity too eagerly makes the group flap).
resource "aws_autoscaling_policy" "step_out" {
  count = var.scaling_mode == "alarm" ? 1 : 0

  name                   = "${var.name}-cpu-step-out"
  autoscaling_group_name = aws_autoscaling_group.app.name
  policy_type            = "StepScaling"
  adjustment_type        = "ChangeInCapacity"

  step_adjustment {
    scaling_adjustment          = 1
    metric_interval_lower_bound = 0
  }
}

resource "aws_autoscaling_policy" "step_in" {
  count = var.scaling_mode == "alarm" ? 1 : 0

  name                   = "${var.name}-cpu-step-in"
  autoscaling_group_name = aws_autoscaling_group.app.name
  policy_type            = "StepScaling"
  adjustment_type        = "ChangeInCapacity"

  step_adjustment {
    scaling_adjustment          = -1
    metric_interval_upper_bound = 0
  }
}

resource "aws_cloudwatch_metric_alarm" "cpu_high" {
  count = var.scaling_mode == "alarm" ? 1 : 0

  alarm_name          = "${var.name}-cpu-high"
  alarm_description   = "Average CPU of ${var.name} above ${var.cpu_high_threshold} % for 2 minutes: add an instance"
  namespace           = "AWS/EC2"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.cpu_high_threshold
  # No data (e.g. a group at 0 instances) is not a reason to scale out.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_autoscaling_policy.step_out[0].arn]

  dimensions = {
    AutoScalingGroupName = aws_autoscaling_group.app.name
  }
}

resource "aws_cloudwatch_metric_alarm" "cpu_low" {
  count = var.scaling_mode == "alarm" ? 1 : 0

  alarm_name          = "${var.name}-cpu-low"
  alarm_description   = "Average CPU of ${var.name} below ${var.cpu_low_threshold} % for 5 minutes: remove an instance"
  namespace           = "AWS/EC2"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "LessThanThreshold"
  threshold           = var.cpu_low_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_autoscaling_policy.step_in[0].arn]

  dimensions = {
    AutoScalingGroupName = aws_autoscaling_group.app.name
  }
}
