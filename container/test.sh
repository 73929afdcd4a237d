#!/usr/bin/env bash
# The container delivery path, built and run for real with podman (`make test-container`, after
# `make build`). It checks, from the host:
#   - the image holds exactly one file, /scaleapp, a static binary (the one `make build` made), with the
#     OCI labels, numeric non-root user, EXPOSE of the contract port, HEALTHCHECK and STOPSIGNAL;
#   - the running container answers /health UP through a published port, runs as uid 65532, and its
#     HEALTHCHECK reports healthy;
#   - `podman stop` drains (/health 503 DRAINING meanwhile) and the process exits 0 within the drain
#     budget of contract.json (drain delay + shutdown timeout).
# Podman here: runc with explicit ulimits (crun fails on this kernel's rlimits), no registry pulls. The
# container's network is slirp4netns (user-mode, like rootless podman): no bridge, no nft rules and no
# ip_forward change on the host, so a concurrent run that needs them is never disturbed, and the host
# port is the kernel's pick (-p 127.0.0.1::PORT), unique whatever else runs.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[container %s] %s\n' "$(date +%T)" "$*"; }
fail() { log "FAIL: $*"; exit 1; }
ms() { echo $(($(date +%s%N) / 1000000)); }

for c in podman runc slirp4netns jq curl ldd; do command -v "$c" >/dev/null || { echo "container/test.sh: $c is not installed (scripts/install-tools.sh apt)" >&2; exit 2; }; done
[ -x bin/scaleapp ] || { echo "container/test.sh: bin/scaleapp is missing: run 'make build'" >&2; exit 2; }

PORT=$(jq -r .port contract/contract.json)
DRAIN=$(jq -r .drain_delay_seconds contract/contract.json)
SHUTDOWN=$(jq -r .shutdown_timeout_seconds contract/contract.json)
BUDGET=$((DRAIN + SHUTDOWN))
VERSION=test-$$
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo none)
IMAGE=localhost/scaleapp-test
REF=$IMAGE:$VERSION
NAME=scaleapp-test-$$
RUN=(--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --network slirp4netns)
work=$(mktemp -d)

mnt=""
# Never aborts (set -e is off in here): every step runs whatever the one before did, and the run's own
# exit code is kept.
cleanup() {
  local rc=$?
  set +e
  if [ -n "$mnt" ]; then podman image unmount "$REF" >/dev/null 2>&1; fi
  podman rm -f -t 0 "$NAME" >/dev/null 2>&1
  podman rmi -f "$REF" >/dev/null 2>&1
  rm -rf "$work"
  if [ "$rc" -ne 0 ]; then log "failed (exit $rc); container and image removed"; fi
  exit "$rc"
}
trap cleanup EXIT

t_all=$SECONDS
# Build through the user-facing script; its tfvars side file goes to a temp dir, not terraform/.
t0=$(ms)
ENGINE=podman IMAGE=$IMAGE VERSION=$VERSION COMMIT=$COMMIT IMAGE_TFVARS=$work/image.auto.tfvars.json \
  scripts/image.sh build >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "image build"; }
build_ms=$(($(ms) - t0))
[ "$(jq -r .container_image_tag "$work/image.auto.tfvars.json")" = "$VERSION" ] || fail "image.sh did not write container_image_tag=$VERSION"
size=$(podman image inspect --format '{{.Size}}' "$REF")
log "built $REF in $build_ms ms: $size bytes (bin/scaleapp: $(stat -c %s bin/scaleapp) bytes)"

# --- The image's metadata --------------------------------------------------------------------------
cfg=$(podman image inspect --format '{{json .Config}}' "$REF")
hc=$(podman image inspect --format '{{json .HealthCheck}}' "$REF")
check() { # WHAT GOT WANT
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
  log "  ok: $1 = $3"
}
check "user" "$(jq -r .User <<<"$cfg")" "65532:65532"
check "exposed ports" "$(jq -c '.ExposedPorts | keys' <<<"$cfg")" "[\"$PORT/tcp\"]"
check "stop signal" "$(jq -r .StopSignal <<<"$cfg")" "SIGTERM"
check "entrypoint" "$(jq -c .Entrypoint <<<"$cfg")" '["/scaleapp"]'
check "healthcheck" "$(jq -c .Test <<<"$hc")" '["CMD","/scaleapp","healthcheck"]'
check "label version" "$(jq -r '.Labels["org.opencontainers.image.version"]' <<<"$cfg")" "$VERSION"
check "label revision" "$(jq -r '.Labels["org.opencontainers.image.revision"]' <<<"$cfg")" "$COMMIT"

# --- The image's contents: one file, the very binary make build produced, static -------------------
mnt=$(podman image mount "$REF")
files=$(cd "$mnt" && find . -mindepth 1 -not -type d | sort)
check "files in the image" "$files" "./scaleapp"
check "binary mode" "$(stat -c '%a %u:%g' "$mnt/scaleapp")" "555 0:0"
cmp -s bin/scaleapp "$mnt/scaleapp" || fail "/scaleapp differs from bin/scaleapp"
log "  ok: /scaleapp is byte for byte bin/scaleapp"
ldd "$mnt/scaleapp" >"$work/ldd" 2>&1 && fail "/scaleapp is dynamically linked: $(cat "$work/ldd")"
grep -q "not a dynamic executable" "$work/ldd" || fail "ldd: $(cat "$work/ldd")"
log "  ok: /scaleapp is static (ldd: not a dynamic executable)"
podman image unmount "$REF" >/dev/null
mnt=""

# --- Run it ---------------------------------------------------------------------------------------
# IMDS off: the instance metadata address is not ours to call from here. The drain settings are the
# AMI's (contract.json), so the stop below is timed against the real budget.
t0=$(ms)
podman run -d --name "$NAME" "${RUN[@]}" -p "127.0.0.1::$PORT" \
  -e IMDS_DISABLED=true -e "DRAIN_DELAY=${DRAIN}s" -e "SHUTDOWN_TIMEOUT=${SHUTDOWN}s" "$REF" >/dev/null 2>"$work/run.err" ||
  { cat "$work/run.err"; fail "podman run"; }
HOST=$(podman port "$NAME" "$PORT/tcp")
[[ $HOST == 127.0.0.1:[0-9]* ]] || fail "podman port $NAME $PORT: got '$HOST'"
up=""
for _ in $(seq 100); do
  up=$(curl -fsS --max-time 1 "http://$HOST/health" 2>/dev/null || true)
  [ "$up" = UP ] && break
  sleep 0.05
done
start_ms=$(($(ms) - t0))
[ "$up" = UP ] || { podman logs "$NAME" | tail -20; fail "/health did not answer UP through $HOST within 5 s"; }
log "  ok: /health answers UP from the host, $start_ms ms after podman run"

pid=$(podman inspect --format '{{.State.Pid}}' "$NAME")
check "process uid/gid" "$(awk '/^Uid:/{u=$2} /^Gid:/{g=$2} END{print u":"g}' "/proc/$pid/status")" "65532:65532"

# There is no systemd on this host to run the HEALTHCHECK timer, so run the image's check directly.
t0=$(ms)
podman healthcheck run "$NAME" >"$work/hc.out" 2>&1 || { cat "$work/hc.out"; fail "podman healthcheck run"; }
hc_ms=$(($(ms) - t0))
check "health status" "$(podman inspect --format '{{.State.Health.Status}}' "$NAME")" "healthy"
log "  ok: HEALTHCHECK (/scaleapp healthcheck) healthy in $hc_ms ms"

# --- Stop: drain, then a clean exit within the budget ------------------------------------------------
t0=$(ms)
podman stop -t $((BUDGET + 5)) "$NAME" >/dev/null 2>"$work/stop.err" &
stopper=$!
draining=""
for _ in $(seq 40); do
  draining=$(curl -sS --max-time 1 "http://$HOST/health" 2>/dev/null || true)
  [ "$draining" = DRAINING ] && break
  sleep 0.05
done
[ "$draining" = DRAINING ] || fail "/health did not turn DRAINING after the stop signal (got '$draining')"
log "  ok: /health answers 503 DRAINING while the container drains"
wait "$stopper" || { cat "$work/stop.err"; fail "podman stop"; }
stop_ms=$(($(ms) - t0))
check "exit code" "$(podman inspect --format '{{.State.ExitCode}}' "$NAME")" "0"
[ "$stop_ms" -ge $((DRAIN * 1000)) ] || fail "stopped after $stop_ms ms, before the ${DRAIN} s drain delay ended"
[ "$stop_ms" -le $((BUDGET * 1000)) ] || fail "stopped after $stop_ms ms, beyond the ${BUDGET} s drain budget"
log "  ok: podman stop took $stop_ms ms (drain ${DRAIN} s + shutdown; budget ${BUDGET} s), exit code 0"

log "PASS in $((SECONDS - t_all)) s: image $size bytes, build $build_ms ms, run->UP $start_ms ms, healthcheck $hc_ms ms, stop $stop_ms ms"
