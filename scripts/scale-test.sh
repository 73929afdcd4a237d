#!/usr/bin/env bash
# Runs the scale-out test (scripts/scale-test, Go) against the stack Terraform deployed: the ALB URL,
# the ASG name and the target group ARN come from `terraform output`. Extra arguments go to the test,
# e.g. scripts/scale-test.sh -timeout 12m -load 100. STRESS_TOKEN, when the instances need one, is read
# from the environment (never pass it as an argument). Exit: 0 scaled out, 1 no scale-out, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."

out() { scripts/terraform.sh output "$1"; }
url=$(out alb_url)
asg=$(out autoscaling_group_name)
tg=$(out target_group_arn)
desired=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$asg" \
  --query 'AutoScalingGroups[0].DesiredCapacity' --output text)
[[ $desired =~ ^[0-9]+$ ]] || { echo "scale-test.sh: cannot read the desired capacity of $asg (got '$desired')" >&2; exit 2; }
mkdir -p dist
# The timeline is the proof a person reads: keep a copy for the build's artifacts.
go run ./scripts/scale-test -url "$url" -asg "$asg" -target-group "$tg" -instances "$desired" "$@" | tee dist/scale-test.txt
