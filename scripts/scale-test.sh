#!/usr/bin/env bash
# Runs the scale test (scripts/scale-test, Go) against the stack Terraform deployed; the ALB URL, the ASG
# name and the target group ARN come from `terraform output`:
#   scripts/scale-test.sh [scale-out] [FLAGS]   stress the instances' CPU; PASS when this stack's scaling
#                                               policy launched instances that answer through the ALB
#   scripts/scale-test.sh replace [FLAGS]       make one instance fail /health; PASS when the ALB marks it
#                                               unhealthy, the group terminates and replaces it, and the
#                                               others keep answering
# FLAGS go to the test, e.g. -timeout 12m -load 100 (`go run ./scripts/scale-test -h` lists them).
# STRESS_TOKEN, when the instances need one, is read from the environment (never pass it as an argument).
# Exit: 0 proven, 1 not proven within the timeout, 2 usage or a failed check before the run.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=scale-out
case ${1:-} in
  scale-out | replace) mode=$1; shift ;;
  -* | "") ;;
  *) echo "scale-test.sh: unknown mode '$1': scale-out or replace" >&2; exit 2 ;;
esac
out() { scripts/terraform.sh output "$1"; }
url=$(out alb_url)
asg=$(out autoscaling_group_name)
tg=$(out target_group_arn)
mkdir -p dist
# Built, not `go run`: go run turns every failure into exit 1, losing the test's exit 2 for usage errors.
echo "scale-test.sh: building dist/scale-test" >&2
go build -o dist/scale-test ./scripts/scale-test
# The timeline and any error are the proof a person reads: keep a copy for the build's artifacts. With
# pipefail (set above) the pipeline, hence this script, exits with the test's code when tee succeeds.
dist/scale-test -mode "$mode" -url "$url" -asg "$asg" -target-group "$tg" "$@" 2>&1 | tee "dist/scale-test-$mode.txt"
