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
# Built, not `go run`: go run turns every failure into exit 1, losing the test's exit 2 for usage errors.
echo "scale-test.sh: building dist/scale-test" >&2
go build -o dist/scale-test ./scripts/scale-test
# The timeline and any error are the proof a person reads: keep a copy for the build's artifacts. With
# pipefail (set above) the pipeline, hence this script, exits with the test's code when tee succeeds.
dist/scale-test -url "$url" -asg "$asg" -target-group "$tg" -instances "$desired" "$@" 2>&1 | tee dist/scale-test.txt
