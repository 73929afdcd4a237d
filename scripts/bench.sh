#!/usr/bin/env bash
# make bench: builds the static binary, then measures it on this machine (scripts/bench/main.go).
# Timings are noisy on a shared machine: run it with nothing else busy and compare within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null || ! command -v stress-ng >/dev/null; then scripts/install-tools.sh apt; fi
make --no-print-directory build
go run ./scripts/bench -binary bin/scaleapp "$@"
