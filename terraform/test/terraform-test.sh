#!/usr/bin/env bash
# terraform/ against the real AWS provider schema, offline:
#   1. terraform init -lockfile=readonly: the provider .terraform.lock.hcl pins (5.100.0), from a
#      filesystem mirror when there is one (TF_PLUGIN_MIRROR, else the first of the usual places that
#      holds hashicorp/aws; TF_PLUGIN_MIRROR=none skips the search), else from the registry; one clear
#      line when neither works.
#   2. terraform validate: every argument, block and enum against the provider's schema; a warning
#      (a deprecated argument, for instance) fails too.
#   3. terraform test: tests/*.tftest.hcl, full plans and applies with mock_provider "aws".
#   4. destroy without AWS reads: scripts/terraform.sh plan-destroy on a copy of the stack whose state
#      holds the container path's resources, with the default variables (delivery = "ami") and the
#      provider pointed at a closed port. It must plan the destroy without reading any data source
#      (a deregistered AMI or the other delivery's lookup would fail the read).
# Nothing is left behind: the provider cache and every copy live in a scratch directory.
set -euo pipefail

TF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(dirname "$TF_DIR")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# No ~/.terraformrc here: an empty one instead of a warning on every call.
export TF_CLI_CONFIG_FILE=$scratch/terraformrc TF_IN_AUTOMATION=1 TF_INPUT=0
: >"$TF_CLI_CONFIG_FILE"

# The suites set the variables they test: a TF_VAR_* of the caller's (the Jenkinsfile sets TF_VAR_delivery
# and TF_VAR_region for the whole pipeline, make test included) must not change what they plan.
for v in "${!TF_VAR_@}"; do unset "$v"; done

log() { printf '[terraform test %s] %s\n' "$(date +%T)" "$*"; }
fail() { echo "terraform test: FAILED: $*" >&2; exit 1; }
# The first error terraform printed, on one line.
first_error() { grep -m1 -A3 'Error' "$1" | tr -s ' \n' ' ' | sed 's/│//g; s/  */ /g' | cut -c1-300; }
command -v terraform >/dev/null || fail "terraform is not on PATH (Terraform >= 1.10 is required)"

# A filesystem mirror: a directory holding registry.terraform.io/hashicorp/aws/<version>/<os_arch>/.
find_mirror() {
  local d
  [ "${TF_PLUGIN_MIRROR:-}" != none ] || return 0
  if [ -n "${TF_PLUGIN_MIRROR:-}" ]; then
    [ -d "$TF_PLUGIN_MIRROR/registry.terraform.io/hashicorp/aws" ] ||
      fail "TF_PLUGIN_MIRROR=$TF_PLUGIN_MIRROR holds no registry.terraform.io/hashicorp/aws"
    echo "$TF_PLUGIN_MIRROR"
    return
  fi
  for d in /opt/tf-plugins "$HOME/.terraform.d/plugins" "$HOME/.local/share/terraform/plugins" \
    /usr/local/share/terraform/plugins /usr/share/terraform/plugins; do
    if [ -d "$d/registry.terraform.io/hashicorp/aws" ]; then
      echo "$d"
      return
    fi
  done
}

mirror=$(find_mirror)
export TF_DATA_DIR=$scratch/data
init_args=(-input=false -lockfile=readonly -backend=false)
t0=$SECONDS
if [ -n "$mirror" ]; then
  log "init from the mirror $mirror"
  terraform -chdir="$TF_DIR" init -no-color "${init_args[@]}" -plugin-dir="$mirror" >"$scratch/init.log" 2>&1 ||
    fail "terraform init from the mirror $mirror did not install the provider .terraform.lock.hcl pins: $(first_error "$scratch/init.log")"
  export TF_CLI_ARGS_init="-plugin-dir=$mirror"
else
  log "no provider mirror (set TF_PLUGIN_MIRROR): init from the registry"
  terraform -chdir="$TF_DIR" init -no-color "${init_args[@]}" >"$scratch/init.log" 2>&1 ||
    fail "terraform init: no provider mirror (set TF_PLUGIN_MIRROR to one) and the registry did not provide hashicorp/aws: $(first_error "$scratch/init.log")"
fi
log "init ok in $((SECONDS - t0)) s ($(grep -o 'hashicorp/aws v[0-9.]*' "$scratch/init.log" | head -1))"

t0=$SECONDS
terraform -chdir="$TF_DIR" validate -json -no-color >"$scratch/validate.json" || true
jq -e '.valid and .warning_count == 0' "$scratch/validate.json" >/dev/null || {
  jq -r '.diagnostics[] | "\(.severity): \(.summary): \(.detail) (\(.range.filename // "-"):\(.range.start.line // "-"))"' "$scratch/validate.json" >&2
  fail "terraform validate: errors or warnings against the provider schema (above)"
}
log "validate ok in $((SECONDS - t0)) s: the configuration matches the provider's schema, no warnings"

t0=$SECONDS
terraform -chdir="$TF_DIR" test -no-color >"$scratch/test.log" 2>&1 || { cat "$scratch/test.log" >&2; fail "terraform test (above)"; }
grep -E '^(Success|Failure)!' "$scratch/test.log" | sed 's/^/  /'
log "test ok in $((SECONDS - t0)) s: $(grep -c '^  run ".*"\.\.\. pass$' "$scratch/test.log") run blocks in $(find "$TF_DIR/tests" -name '*.tftest.hcl' | wc -l) files"

# 4. A copy of the repository's parts that scripts/terraform.sh and the stack read.
t0=$SECONDS
copy=$scratch/destroy
mkdir -p "$copy/terraform" "$copy/contract" "$copy/scripts"
cp -r "$TF_DIR"/*.tf "$TF_DIR"/templates "$TF_DIR"/modules "$TF_DIR"/.terraform.lock.hcl "$copy/terraform/"
cp "$ROOT/contract/contract.json" "$copy/contract/"
cp "$ROOT/scripts/terraform.sh" "$copy/scripts/"
cp "$TF_DIR/test/destroy/provider_override.tf" "$copy/terraform/"
cp "$TF_DIR/test/destroy/container-path-state.json" "$copy/terraform/terraform.tfstate"
unset TF_DATA_DIR
# Default variables: delivery = "ami" although the state is the container path's.
if ! env -u JENKINS_URL -u TF_STATE_BUCKET "$copy/scripts/terraform.sh" plan-destroy >"$scratch/destroy.log" 2>&1; then
  cat "$scratch/destroy.log" >&2
  fail "scripts/terraform.sh plan-destroy read AWS (a data source or a refresh) instead of planning the destroy from the state (above)"
fi
want=$(jq '[.resources[] | select(.mode == "managed") | .instances[]] | length' "$TF_DIR/test/destroy/container-path-state.json")
grep -q "^Plan: 0 to add, 0 to change, $want to destroy\.$" "$copy/dist/tfplan.txt" ||
  fail "plan-destroy did not plan to destroy the $want resources of the state: $(grep -E '^(Plan|No changes)' "$copy/dist/tfplan.txt" || echo 'no plan line')"
log "destroy plan ok in $((SECONDS - t0)) s: $want resources, no AWS call (provider pointed at a closed port)"
