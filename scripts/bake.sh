#!/usr/bin/env bash
# Bakes the golden AMI with Packer, the same way by hand and in Jenkins:
#   scripts/bake.sh validate   packer validate of packer/ (no AWS calls)
#   scripts/bake.sh build      validate, then packer build of the amazon-ebs source only
# Graviton: make build GOARCH=arm64, then PKR_VAR_arch=arm64 scripts/bake.sh build.
# Needs bin/scaleapp (make build), packer + the amazon plugin (make tools) and the project's plugin
# (packer/plugin/install.sh). VERSION/COMMIT default to what `make build` stamps; AWS_REGION, when set,
# reaches the template as PKR_VAR_region. The template writes terraform/ami.auto.tfvars.json and the
# Packer manifest; `terraform apply` right after picks the new AMI up.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bake %s] %s\n' "$(date +%T)" "$*"; }
die() { echo "bake: $*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: scripts/bake.sh validate|build"
case $1 in validate | build) ;; *) die "unknown step '$1': validate or build" ;; esac
TOOLS=${SCALEAPP_TOOLS:-$HOME/.cache/scaleapp-tools}
export PATH=$TOOLS/bin:$PATH PACKER_PLUGIN_PATH=${PACKER_PLUGIN_PATH:-$TOOLS/packer-plugins}
command -v packer >/dev/null || die "packer is not on PATH: run 'make tools' and add \$HOME/.cache/scaleapp-tools/bin to PATH"
[ -x bin/scaleapp ] || die "bin/scaleapp is missing: run 'make build' first (the AMI bakes that exact binary)"

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo none)}
# An environment variable, not -var: packer rejects a -var the template does not declare.
if [ -n "${AWS_REGION:-}" ]; then export PKR_VAR_region=$AWS_REGION; fi
vars=(-var "version=$VERSION" -var "git_commit=$COMMIT")
template=$PWD/packer

t0=$SECONDS
log "packer validate $template (version $VERSION, commit $COMMIT)"
packer validate "${vars[@]}" "$template"
case $1 in
  validate) ;;
  build)
    # -only: the template also holds a local null/SSH source used by the test suite.
    # Packer's debug log goes to a file the pipeline archives; the console keeps the readable output.
    mkdir -p dist/logs
    export PACKER_LOG=1 PACKER_LOG_PATH=dist/logs/packer-build.log
    log "packer build -only=amazon-ebs.* (region ${AWS_REGION:-from the template}; debug log $PACKER_LOG_PATH)"
    touch dist/logs/.bake-start
    packer build -color=false -timestamp-ui -only='amazon-ebs.*' "${vars[@]}" "$template"
    # Newer than the start: a stale file from an earlier bake must not pass for this one.
    [ terraform/ami.auto.tfvars.json -nt dist/logs/.bake-start ] ||
      { echo "bake: packer build did not write terraform/ami.auto.tfvars.json" >&2; exit 1; }
    log "new AMI: $(jq -c . terraform/ami.auto.tfvars.json)"
    ;;
esac
log "done in $((SECONDS - t0)) s"
