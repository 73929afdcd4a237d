#!/usr/bin/env bash
# make lint: every static check of the repository, each timed. Fails on the first finding.
#   Go: gofmt (both modules); shell: shellcheck; Terraform: fmt, tflint, tfsec, terraform-docs;
#   Packer: fmt and full validate (with the amazon plugin); Jenkinsfile: npm-groovy-lint.
# (go vet runs with the tests; the unit file's systemd-analyze checks run in the image test, on the unit
# as installed in the root filesystem.)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=${SCALEAPP_TOOLS:-$HOME/.cache/scaleapp-tools}/bin:$PATH

step() {
  local name=$1 t0=$SECONDS; shift
  printf '[lint %s] %s\n' "$(date +%T)" "$name"
  "$@"
  printf '[lint %s]   ok in %d s\n' "$(date +%T)" $((SECONDS - t0))
}

gofmt_clean() {
  local bad
  bad=$(git ls-files -co --exclude-standard '*.go' | xargs gofmt -l)
  [ -z "$bad" ] || { echo "gofmt: not formatted: $bad" >&2; return 1; }
}

shell_clean() {
  git ls-files -co --exclude-standard '*.sh' .ci/run | xargs shellcheck -S style
}

step "gofmt" gofmt_clean
step "shellcheck" shell_clean
step "terraform (fmt, tflint, tfsec, docs)" terraform/test/lint.sh
step "packer fmt" packer fmt -check -diff -recursive packer
step "packer plugin (ours, for validate)" packer/plugin/install.sh
step "packer validate (amazon + scaleapp plugins)" scripts/bake.sh validate
step "Jenkinsfile (npm-groovy-lint)" scripts/lint-jenkinsfile.sh
