#!/usr/bin/env bash
# Builds the scaleapp Packer plugin and installs it as github.com/scaleapp/scaleapp, so templates can
# use scaleapp-healthgate and scaleapp-tfvars. The Jenkinsfile and the image test both call this
# script, so CI bakes with exactly the plugin the tests used.
#
#   packer/plugin/install.sh
#
# Environment:
#   PACKER_PLUGIN_PATH  where packer looks for plugins (default ~/.cache/scaleapp-tools/packer-plugins)
#   SCALEAPP_TOOLS      the project's tool cache, whose bin/ holds the pinned packer (default ~/.cache/scaleapp-tools)
#   GIT_COMMIT          commit stamped into the plugin's version metadata (default: git rev-parse HEAD)
#
# Idempotent: the build is reproducible, so when the installed binary has the same SHA-256 the
# install is skipped.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=${SCALEAPP_TOOLS:-$HOME/.cache/scaleapp-tools}
export PACKER_PLUGIN_PATH=${PACKER_PLUGIN_PATH:-$tools/packer-plugins}
export PATH=$tools/bin:$PATH
source_addr=github.com/scaleapp/scaleapp
t0=$(date +%s.%N)

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }

if ! command -v packer >/dev/null; then
  echo "install.sh: packer is not on PATH (nor in $tools/bin): run scripts/install-tools.sh first" >&2
  exit 1
fi

# Version metadata: the commit, shortened; semver metadata allows only [0-9A-Za-z.-].
commit=${GIT_COMMIT:-$(git -C "$here" rev-parse HEAD 2>/dev/null || true)}
commit=${commit:0:12}
if [[ ! $commit =~ ^[0-9A-Za-z.-]*$ ]]; then
  echo "install.sh: GIT_COMMIT=$commit is not usable as version metadata (only 0-9 A-Z a-z . -)" >&2
  exit 1
fi

build_dir=$tools/build/scaleapp-plugin
bin=$build_dir/packer-plugin-scaleapp
mkdir -p "$build_dir"
# The plugin runs next to packer on this machine: GOOS/GOARCH from the caller (GOARCH=arm64 selects
# the service's target) must not leak in. -buildvcs=false and -trimpath keep the binary byte-identical
# for the same source and commit, which is what makes the skip below safe.
(cd "$here" && env -u GOOS -u GOARCH CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X github.com/scaleapp/scaleapp/packer/plugin/version.VersionMetadata=$commit" \
  -o "$bin" .)
version=$("$bin" describe | sed -n 's/.*"version":"\([^"]*\)".*/\1/p')
size=$(stat -c %s "$bin")
echo "install.sh: built packer-plugin-scaleapp $version ($((size / 1024 / 1024)) MiB) in $(elapsed "$t0")"

core=${version%%+*}
installed=$PACKER_PLUGIN_PATH/$source_addr/packer-plugin-scaleapp_v${core}_x5.0_$(go env GOHOSTOS)_$(go env GOHOSTARCH)
want=$(sha256sum "$bin" | cut -d' ' -f1)
if [[ -f $installed && -f ${installed}_SHA256SUM && $(cat "${installed}_SHA256SUM") == "$want" ]] &&
  [[ $(sha256sum "$installed" | cut -d' ' -f1) == "$want" ]]; then
  echo "install.sh: $source_addr $version already installed at $installed"
else
  packer plugins install --path "$bin" "$source_addr"
fi

# Prove packer itself sees it, not just that a file exists.
# (Output captured first: with pipefail, `packer ... | grep -q` can fail on SIGPIPE.)
if ! grep -qxF "$installed" <<<"$(packer plugins installed)"; then
  echo "install.sh: packer plugins installed does not list $installed (PACKER_PLUGIN_PATH=$PACKER_PLUGIN_PATH)" >&2
  exit 1
fi
echo "install.sh: packer lists $installed; done in $(elapsed "$t0")"
