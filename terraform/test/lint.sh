#!/usr/bin/env bash
# Static checks of terraform/ (nothing here reaches AWS; init, validate against the provider schema and
# terraform test are terraform-test.sh's job, make test-terraform):
#   terraform fmt -check (including backend.tf.example, tests/*.tftest.hcl and tests/aws/*.tfmock.hcl),
#   tflint (terraform ruleset, preset "all",
#   zero findings), tfsec (zero unignored findings, for the default variables and for every
#   examples/*.tfvars, so count-guarded resources such as the ECR repository are checked too),
#   terraform-docs --output-check (README.md tables up to date).
# The cross-folder contract checks are Go tests: go test ./contract/ -run Terraform.
# Called by scripts/lint.sh; prints one timing line per tool.
set -euo pipefail

TF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${SCALEAPP_TOOLS:-$HOME/.cache/scaleapp-tools}
export PATH=$TOOLS/bin:$PATH
# No ~/.terraformrc here: point terraform at an empty one instead of warning on every call.
TF_CLI_CONFIG_FILE=$(mktemp)
export TF_CLI_CONFIG_FILE
scratch=$(mktemp -d)
trap 'rm -rf "$scratch" "$TF_CLI_CONFIG_FILE"' EXIT

failed=()
step() { # NAME CMD...: runs CMD, prints its time, remembers a failure and carries on
  local name=$1 t0 rc=0
  shift
  t0=$(date +%s%N)
  "$@" || rc=$?
  printf '[terraform lint] %-16s %s in %d ms\n' "$name" "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")" $((($(date +%s%N) - t0) / 1000000))
  [ $rc -eq 0 ] || failed+=("$name")
}

need() {
  command -v "$1" >/dev/null || {
    echo "terraform lint: $1 not found in PATH (run scripts/install-tools.sh)" >&2
    exit 1
  }
}
for t in terraform tflint tfsec terraform-docs; do need "$t"; done

cd "$TF_DIR"

fmt() {
  terraform fmt -check -recursive -diff . &&
    # fmt skips *.example: check the backend example under a .tf name.
    cp backend.tf.example "$scratch/backend.tf" &&
    terraform fmt -check -diff "$scratch/backend.tf"
}

tfsec_all() {
  local rc=0 f
  for f in "" examples/*.tfvars; do
    echo "tfsec: ${f:-default variables}"
    # tfsec prints a "joining the Trivy family" banner to stderr on every run: drop it, keep the rest.
    tfsec . --no-color --concise-output --no-module-downloads ${f:+--tfvars-file "$f"} 2>"$scratch/tfsec.err" || rc=1
    sed '/^=\{10,\}$/,/^=\{10,\}$/d; /^$/d' "$scratch/tfsec.err" >&2
  done
  return $rc
}

step fmt fmt
step tflint tflint --config="$TF_DIR/.tflint.hcl" --format=compact
step tfsec tfsec_all
step terraform-docs terraform-docs --config .terraform-docs.yml --output-check .

if [ ${#failed[@]} -gt 0 ]; then
  echo "terraform lint: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "terraform lint: all green"
