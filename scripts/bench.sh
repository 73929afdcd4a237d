#!/usr/bin/env bash
# make bench: builds the static binary, then measures it on this machine (scripts/bench/main.go).
# Timings are noisy on a shared machine: run it with nothing else busy and compare within one run.
# BASELINE=<git ref> (e.g. BASELINE=main make bench) builds that commit too and measures it beside this
# one, figure by figure.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null || ! command -v stress-ng >/dev/null; then scripts/install-tools.sh apt; fi
make --no-print-directory build
args=()
if [[ -n "${BASELINE:-}" ]]; then
  base=$(mktemp -d)
  trap 'rm -rf "$base"' EXIT
  git archive "$BASELINE" | tar -x -C "$base"
  echo "bench: building the baseline $BASELINE ($(git rev-parse --short "$BASELINE"))"
  (cd "$base" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$base/scaleapp-baseline" ./service/cmd/scaleapp)
  args=(-baseline "$base/scaleapp-baseline")
fi
go run ./scripts/bench -binary bin/scaleapp "${args[@]}" "$@"
