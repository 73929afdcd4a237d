#!/usr/bin/env bash
# Acceptance test of the scaleapp Packer plugin with the real packer (1.12, from scripts/install-tools.sh):
# installs it exactly as CI does (install.sh), then proves packer loads it and that its arguments and
# errors come through packer itself. No AWS, no network: the null builder stands in for amazon-ebs.
# The health gate's success path over SSH against a booted systemd is in packer/test/image-test.sh.
#
#   packer/plugin/acceptance.sh     (make test calls it; exits non-zero on the first failed check)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=${SCALEAPP_TOOLS:-$HOME/.cache/scaleapp-tools}
export PACKER_PLUGIN_PATH=${PACKER_PLUGIN_PATH:-$tools/packer-plugins}
export PATH=$tools/bin:$PATH
export CHECKPOINT_DISABLE=1 PACKER_NO_COLOR=1
t0=$SECONDS
checks=0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "acceptance.sh: FAIL: $*" >&2
  exit 1
}

# expect NAME WANT_RC WANT_TEXT CMD...: runs CMD in test-fixtures, requires its exit status
# (0 or "nonzero") and WANT_TEXT in its combined output (compared with whitespace and line breaks
# squeezed, since packer wraps long messages).
expect() {
  local name=$1 want_rc=$2 want_text=$3 rc=0 start=$SECONDS
  shift 3
  (cd "$here/test-fixtures" && "$@") >"$work/out" 2>&1 || rc=$?
  if [[ $want_rc == 0 && $rc != 0 ]] || [[ $want_rc == nonzero && $rc == 0 ]]; then
    cat "$work/out" >&2
    fail "$name: exit status $rc, want $want_rc"
  fi
  if [[ -n $want_text ]] && ! tr -s ' \n' '  ' <"$work/out" | grep -qF -- "$(tr -s ' \n' '  ' <<<"$want_text" | sed 's/ $//')"; then
    cat "$work/out" >&2
    fail "$name: output lacks: $want_text"
  fi
  checks=$((checks + 1))
  echo "acceptance.sh: ok   $name ($((SECONDS - start)) s)"
}

# The unit tests compare only argument names with the Configs; regenerating the *.hcl2spec.go files
# (go generate: packer-sdc, the module's go tool, built on first use) in a copy of the module and
# comparing them also catches a changed type, a removed field or a missing go generate.
start=$SECONDS
cp -R "$here" "$work/gen"
(cd "$work/gen" && go generate ./...) >"$work/out" 2>&1 || {
  cat "$work/out" >&2
  fail "go generate ./... failed in a copy of packer/plugin"
}
stale=()
while IFS= read -r f; do
  diff -u "$here/$f" "$work/gen/$f" >>"$work/spec.diff" 2>&1 || stale+=("${f#./}")
done < <({ (cd "$here" && find . -name '*.hcl2spec.go') && (cd "$work/gen" && find . -name '*.hcl2spec.go'); } | sort -u)
if ((${#stale[@]})); then
  cat "$work/spec.diff" >&2
  fail "stale generated HCL2 spec(s): ${stale[*]}: run 'go generate ./...' in packer/plugin"
fi
checks=$((checks + 1))
echo "acceptance.sh: ok   generated HCL2 specs are current ($((SECONDS - start)) s, includes building packer-sdc when the Go cache is cold)"

"$here/install.sh"
installed=$(packer plugins installed | grep '/github.com/scaleapp/scaleapp/packer-plugin-scaleapp_') ||
  fail "packer plugins installed does not list github.com/scaleapp/scaleapp"
echo "acceptance.sh: packer plugins installed lists $installed"

expect "fixtures are packer fmt clean" 0 "" packer fmt -check -diff .

expect "every argument of both components validates" 0 "The configuration is valid." \
  packer validate healthgate-valid.pkr.hcl

expect "an unknown argument is rejected by the generated HCL2 spec" nonzero \
  'An argument named "ready_timout" is not expected here. Did you mean "ready_timeout"?' \
  packer validate healthgate-unknown-arg.pkr.hcl

expect "a bad ready_timeout is rejected by Prepare" nonzero \
  "error decoding 'ready_timeout': time: invalid duration \"sixty\"" \
  packer validate healthgate-bad-ready-timeout.pkr.hcl

expect "the health gate fails the build without a communicator" nonzero \
  'id -u printed nothing: the build has no working communicator (communicator = "none"?)' \
  packer build -color=false healthgate-no-communicator.pkr.hcl

out=$work/terraform/ami.auto.tfvars.json
expect "tfvars refuses a non-AMI artifact" nonzero \
  'scaleapp-tfvars needs an AMI from an amazon builder (amazon-chroot, amazon-ebs, amazon-ebssurrogate, amazon-instance), got an artifact of builder "fnoeding.null"' \
  packer build -color=false -var "output=$out" tfvars-null.pkr.hcl
[[ ! -e $out ]] || fail "tfvars wrote $out for a non-AMI artifact"

expect "tfvars refuses an architecture in Go's spelling" nonzero \
  'architecture "amd64": want one of x86_64, arm64 (the AMI'"'"'s architecture, e.g. the template'"'"'s var.arch)' \
  packer validate -var "output=$out" -var architecture=amd64 tfvars-null.pkr.hcl

echo "acceptance.sh: $checks checks passed in $((SECONDS - t0)) s"
