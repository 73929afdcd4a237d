#!/usr/bin/env bash
# Smoke test of a deployed stack through its load balancer:
#   1. waits (bounded) until URL/health answers 200 "UP" — a fresh ALB takes a minute or two;
#   2. sends N requests to URL/ and counts the distinct instance_id values that answered;
#   3. fails when fewer than EXPECTED instances answered (the healthy count the ASG should have).
#
#   scripts/smoke.sh URL [N=20] [EXPECTED=2]
#   SMOKE_WAIT=300 (seconds to wait for /health), SMOKE_INTERVAL=5 (seconds between tries),
#   SMOKE_MAX_FAILED=0 (failed requests to / tolerated, e.g. during an instance refresh)
#
# Exit codes: 0 pass, 1 the stack is not healthy or not spread enough, 2 bad usage.
set -euo pipefail

usage() { echo "usage: scripts/smoke.sh URL [N=20] [EXPECTED=2]  (URL like http://my-alb-123.eu-west-1.elb.amazonaws.com)" >&2; exit 2; }
log() { printf '[smoke %s] %s\n' "$(date +%T)" "$*"; }
is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

if [ $# -lt 1 ] || [ $# -gt 3 ]; then usage; fi
url=${1%/}
n=${2:-20}
expected=${3:-2}
wait_s=${SMOKE_WAIT:-300}
interval=${SMOKE_INTERVAL:-5}
max_failed=${SMOKE_MAX_FAILED:-0}
[[ $url =~ ^https?://[^/]+ ]] || { echo "smoke: URL '$1' must start with http:// or https://" >&2; usage; }
is_count "$n" || { echo "smoke: N '$n' must be a positive integer" >&2; usage; }
is_count "$expected" || { echo "smoke: EXPECTED '$expected' must be a positive integer" >&2; usage; }
[ "$expected" -le "$n" ] || { echo "smoke: EXPECTED ($expected) cannot exceed N ($n): $n requests cannot reach more instances" >&2; usage; }
for v in SMOKE_WAIT:"$wait_s" SMOKE_INTERVAL:"$interval"; do
  is_count "${v#*:}" || { echo "smoke: ${v%%:*} '${v#*:}' must be a positive integer" >&2; usage; }
done
[[ $max_failed =~ ^[0-9]+$ ]] || { echo "smoke: SMOKE_MAX_FAILED '$max_failed' must be an integer >= 0" >&2; usage; }
command -v jq >/dev/null || { echo "smoke: jq is required" >&2; exit 2; }

# fetch PATH: prints "CODE BODY"; curl's own failure shows as code 000.
fetch() { curl -sS -o - -w '\n%{http_code}' --connect-timeout 3 --max-time 5 "$url$1" 2>/dev/null || true; }

t0=$SECONDS
log "waiting up to ${wait_s} s for $url/health to answer UP"
last=""
while :; do
  out=$(fetch /health)
  code=${out##*$'\n'}
  code=${code:-000}
  body=${out%$'\n'*}
  [ "$code" = 200 ] && [ "$body" = UP ] && break
  now="HTTP $code ${body:0:60}"
  [ "$code" = 000 ] && now="no answer (connection refused or timed out)"
  [ "$now" = "$last" ] || log "  /health: $now"
  last=$now
  if [ $((SECONDS - t0)) -ge "$wait_s" ]; then
    log "FAIL: $url/health did not answer 200 UP within ${wait_s} s (last: $now)"
    exit 1
  fi
  sleep "$interval"
done
log "/health is UP after $((SECONDS - t0)) s"

declare -A seen=()
failed=0
for ((i = 1; i <= n; i++)); do
  out=$(fetch /)
  code=${out##*$'\n'}
  id=""
  [ "$code" = 200 ] && id=$(jq -r '.instance_id // empty' <<<"${out%$'\n'*}" 2>/dev/null || true)
  if [ -z "$id" ]; then
    failed=$((failed + 1))
    log "  request $i: HTTP ${code:-000} without an instance_id"
    continue
  fi
  seen[$id]=$((${seen[$id]:-0} + 1))
done

log "$n requests to $url/: ${#seen[@]} distinct instance(s), $failed failed"
for id in "${!seen[@]}"; do printf '  %-22s %3d requests\n' "$id" "${seen[$id]}"; done | sort
if [ "${#seen[@]}" -lt "$expected" ]; then
  log "FAIL: ${#seen[@]} instance(s) answered, expected at least $expected"
  exit 1
fi
if [ "$failed" -gt "$max_failed" ]; then
  log "FAIL: $failed of $n requests failed (SMOKE_MAX_FAILED=$max_failed)"
  exit 1
fi
log "PASS: $expected+ instances answer through the load balancer ($((SECONDS - t0)) s)"
