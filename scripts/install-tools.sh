#!/usr/bin/env bash
# Installs every tool the test suite, the bake and the pipeline need, pinned, into a cache outside the
# repo ($SCALEAPP_TOOLS, default ~/.cache/scaleapp-tools). Idempotent: a tool already there at its pinned
# version is skipped, so a second run takes seconds. Used by `make tools`, .ci/run and the Jenkinsfile.
#
#   scripts/install-tools.sh [apt] [go] [packer] [npm]     (no argument: all of them)
set -euo pipefail

# What the machine must bring (this script does not install it) is checked first, one line per missing
# piece, before anything is installed: exit 2 then.
#   Debian 12 with apt-get and dpkg, run as root (no sudo): the apt part, systemd-nspawn and podman tests
#   git, make, terraform >= 1.10 (S3 lock files): the suite and the pipeline
#   Go >= 1.26 (go.mod): the go and packer parts; Node.js >= 20 with npm: npm-groovy-lint 16.2.0 (npm part)

# version_ge HAVE WANT: dotted versions, compared number by number (pure bash: nothing else is assumed yet).
version_ge() {
  local IFS=. i
  local -a h w
  read -r -a h <<<"$1"
  read -r -a w <<<"$2"
  for i in 0 1 2; do
    [[ ${h[i]:-0} =~ ^[0-9]+$ ]] || return 1
    ((10#${h[i]:-0} > 10#${w[i]:-0})) && return 0
    ((10#${h[i]:-0} < 10#${w[i]:-0})) && return 1
  done
  return 0
}

check_requirements() { # PARTS...
  local missing=() parts=" $* " v
  if [[ $parts == *" apt "* ]]; then
    [ "${EUID:-$(id -u)}" = 0 ] || missing+=("root: run as root (apt-get; the suite boots systemd-nspawn and runs podman); sudo is not supported")
    { command -v apt-get && command -v dpkg; } >/dev/null || missing+=("apt-get and dpkg: a Debian 12 system is required (the Debian packages this script installs)")
  fi
  if [[ $parts == *" all "* ]]; then
    local c
    for c in git make; do command -v "$c" >/dev/null || missing+=("$c: not installed (apt-get install $c)"); done
    v=$(terraform version 2>/dev/null) || true
    v=${v%%$'\n'*}
    v=${v#Terraform v}
    version_ge "${v:-0}" 1.10 || missing+=("Terraform >= 1.10: found ${v:-none} (https://developer.hashicorp.com/terraform/install)")
  fi
  if [[ $parts == *" go "* || $parts == *" packer "* ]]; then
    v=$(go env GOVERSION 2>/dev/null) || true
    v=${v#go}
    version_ge "${v:-0}" 1.26 || missing+=("Go >= 1.26: found ${v:-none} (https://go.dev/dl)")
  fi
  if [[ $parts == *" npm "* ]]; then
    v=$(node --version 2>/dev/null) || true
    v=${v#v}
    version_ge "${v:-0}" 20 || missing+=("Node.js >= 20: found ${v:-none} (npm-groovy-lint $GROOVY_LINT_VERSION needs it; Debian 12's nodejs is 18: use NodeSource's node_20.x)")
    command -v npm >/dev/null || missing+=("npm: not installed (it comes with NodeSource's nodejs)")
  fi
  [ ${#missing[@]} -eq 0 ] && return
  local m
  for m in "${missing[@]}"; do echo "install-tools: missing $m" >&2; done
  echo "install-tools: ${#missing[@]} requirement(s) missing; nothing was installed" >&2
  exit 2
}

TOOLS=${SCALEAPP_TOOLS:-$HOME/.cache/scaleapp-tools}
BIN=$TOOLS/bin
export PACKER_PLUGIN_PATH=${PACKER_PLUGIN_PATH:-$TOOLS/packer-plugins}
export GOFLAGS=-mod=mod

PACKER_VERSION=1.12.0
AMAZON_PLUGIN_VERSION=1.3.6
# The checksum database does not know this module; pin the zip hash ourselves instead.
AMAZON_PLUGIN_SUM='h1:YBrTHhzYo/29VPdvHI7p35dwh3Y5HvFtsc5dL99C3N4='
TFLINT_VERSION=0.64.0
TFSEC_VERSION=1.28.14
TFDOCS_VERSION=0.20.0
IMDS_MOCK_VERSION=1.13.0
GROOVY_LINT_VERSION=16.2.0
VEGETA_VERSION=12.12.0 # the fleet lab's load generator (scripts/lab.sh)

APT_PACKAGES=(debootstrap systemd-container zstd curl iproute2 podman runc wrk stress-ng shellcheck
  openssh-client jq make nftables procps
  slirp4netns # container/test.sh's network: no bridge, nft rules or ip_forward change on the host
  haproxy # the fleet lab's load balancer (scripts/lab.sh), 2.6 on Debian 12
  openjdk-17-jre-headless) # Java: npm-groovy-lint runs CodeNarc
# Headless Chromium and a font for the dashboard's browser tests (service/dashboard, driven by chromedp).
APT_PACKAGES+=(chromium fonts-dejavu-core)

step() { printf '[tools %s] %s\n' "$(date +%T)" "$*"; }
timed() { local t0=$SECONDS; "$@"; step "  done in $((SECONDS - t0)) s"; }

have_version() { # BIN_NAME EXPECTED VERSION-ARGS...
  local name=$1 want=$2 out; shift 2
  # Captured first: with pipefail, `tool | grep -q` fails when grep exits before the tool has written.
  [ -x "$BIN/$name" ] && out=$("$BIN/$name" "$@" 2>/dev/null) && grep -q -- "$want" <<<"$out"
}

# go_build_module MODULE VERSION OUT: builds a module's main package inside the module cache, for tools
# whose go.mod carries replace directives (go install @version refuses them).
go_build_module() {
  local mod=$1 ver=$2 out=$3 dir
  dir=$(go mod download -json "$mod@$ver" | jq -r .Dir)
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -o "$out" .)
}

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then step "apt: all present"; return; fi
  step "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timed apt-get update -qq
  timed apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_go_tools() {
  have_version tflint "$TFLINT_VERSION" --version || { step "tflint $TFLINT_VERSION"; timed env GOBIN="$BIN" go install "github.com/terraform-linters/tflint@v$TFLINT_VERSION"; }
  have_version tfsec "$TFSEC_VERSION" --version || { step "tfsec $TFSEC_VERSION"; timed env GOBIN="$BIN" go install -ldflags "-X github.com/aquasecurity/tfsec/version.Version=v$TFSEC_VERSION" "github.com/aquasecurity/tfsec/cmd/tfsec@v$TFSEC_VERSION"; }
  [ -x "$BIN/terraform-docs-$TFDOCS_VERSION" ] || { step "terraform-docs $TFDOCS_VERSION"; timed go_build_module github.com/terraform-docs/terraform-docs "v$TFDOCS_VERSION" "$BIN/terraform-docs-$TFDOCS_VERSION"; }
  ln -sf "terraform-docs-$TFDOCS_VERSION" "$BIN/terraform-docs"
  [ -x "$BIN/ec2-metadata-mock-$IMDS_MOCK_VERSION" ] || { step "ec2-metadata-mock $IMDS_MOCK_VERSION"; timed env GOBIN="$TOOLS/imds" go install "github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@v$IMDS_MOCK_VERSION"; mv "$TOOLS/imds/ec2-metadata-mock" "$BIN/ec2-metadata-mock-$IMDS_MOCK_VERSION"; }
  ln -sf "ec2-metadata-mock-$IMDS_MOCK_VERSION" "$BIN/ec2-metadata-mock"
  [ -x "$BIN/vegeta-$VEGETA_VERSION" ] || { step "vegeta $VEGETA_VERSION"; timed env GOBIN="$TOOLS/vegeta" go install "github.com/tsenart/vegeta/v12@v$VEGETA_VERSION"; mv "$TOOLS/vegeta/vegeta" "$BIN/vegeta-$VEGETA_VERSION"; }
  ln -sf "vegeta-$VEGETA_VERSION" "$BIN/vegeta"
}

install_packer() {
  have_version packer "$PACKER_VERSION" version || { step "packer $PACKER_VERSION (builds from source, ~3 min cold)"; timed go_build_module github.com/hashicorp/packer "v$PACKER_VERSION" "$BIN/packer"; }
  if ! grep -q "amazon/packer-plugin-amazon_v${AMAZON_PLUGIN_VERSION}_" <<<"$("$BIN/packer" plugins installed 2>/dev/null)"; then
    step "packer-plugin-amazon $AMAZON_PLUGIN_VERSION"
    local info sum dir out
    info=$(GONOSUMDB=github.com/hashicorp/packer-plugin-amazon go mod download -json "github.com/hashicorp/packer-plugin-amazon@v$AMAZON_PLUGIN_VERSION")
    sum=$(jq -r .Sum <<<"$info"); dir=$(jq -r .Dir <<<"$info")
    [ "$sum" = "$AMAZON_PLUGIN_SUM" ] || { echo "packer-plugin-amazon: checksum $sum, want $AMAZON_PLUGIN_SUM" >&2; exit 1; }
    out=$TOOLS/build/packer-plugin-amazon_v${AMAZON_PLUGIN_VERSION}_x5.0_linux_amd64
    mkdir -p "$TOOLS/build"
    timed bash -c "cd '$dir' && CGO_ENABLED=0 go build -trimpath -o '$out' ."
    "$BIN/packer" plugins install --path "$out" github.com/hashicorp/amazon
  fi
}

install_npm() {
  # Read the version from package.json: `npm-groovy-lint --version` starts a CodeNarc server that lingers.
  [ "$(jq -r .version "$TOOLS/npm/lib/node_modules/npm-groovy-lint/package.json" 2>/dev/null)" = "$GROOVY_LINT_VERSION" ] && return
  step "npm-groovy-lint $GROOVY_LINT_VERSION"
  timed npm install -g --silent --no-fund --no-audit --prefix "$TOOLS/npm" "npm-groovy-lint@$GROOVY_LINT_VERSION"
  ln -sf "../npm/bin/npm-groovy-lint" "$BIN/npm-groovy-lint"
}

what=("$@"); [ ${#what[@]} -gt 0 ] || what=(apt go packer npm all)
check_requirements "${what[@]}"
mkdir -p "$BIN" "$PACKER_PLUGIN_PATH"
t0=$SECONDS
for w in "${what[@]}"; do
  case $w in
    apt) install_apt ;; go) install_go_tools ;; packer) install_packer ;; npm) install_npm ;; all) ;;
    *) echo "install-tools: unknown part '$w' (apt, go, packer, npm)" >&2; exit 2 ;;
  esac
done
step "tools ready in $BIN ($((SECONDS - t0)) s)"
