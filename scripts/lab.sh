#!/usr/bin/env bash
# make lab: the fleet lab. N instances (default 3) booted from the golden image's root filesystem under
# systemd-nspawn (packer/test/rootfs.sh + packer/test/lib.sh), each with the unit and env file installed
# by packer/install.sh exactly as the AMI bake does, behind a real HAProxy whose health checks take their
# path, interval, timeout and thresholds from contract/contract.json (the ALB target group's values).
# Under steady load from vegeta it runs the scenarios an autoscaled fleet lives through, prints a
# timeline and a verdict for each, then a summary table. Every request and failure count is vegeta's.
#
#   scripts/lab.sh                    real speed (a few minutes)
#   LAB_TIME_SCALE=5 scripts/lab.sh   every health check time and the drain delay divided by 5 (make test-lab)
#   LAB_INSTANCES=3 LAB_RATE=100      instances at the start, requests per second
#
# How HAProxy stands in for the ALB (scripts/lab/README.md has the full mapping): round robin, no slow
# start, idle server connections shared between clients (http-reuse always, as the ALB pools them), no
# retry of a failed request on another server (retries 0), 60 s idle and server timeouts, and a new
# server taking traffic only after `rise` passing checks (it is added with its health forced down, like
# an ALB target in state "initial"). Needs root; removes every process, container, cgroup and veth it
# made on exit, also on Ctrl-C.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
LIB_TAG=lab
# shellcheck source=SCRIPTDIR/../packer/test/lib.sh
. "$REPO/packer/test/lib.sh"

TOOLS=${SCALEAPP_TOOLS:-$HOME/.cache/scaleapp-tools}
export PATH=$TOOLS/bin:$PATH
BIN=${SCALEAPP_BIN:-$REPO/bin/scaleapp}
SCALE=${LAB_TIME_SCALE:-1}
N=${LAB_INSTANCES:-3}
RATE=${LAB_RATE:-100}

########## preflight
[ "$(id -u)" = 0 ] || fail "needs root (systemd-nspawn, cgroups, veth)"
for tool in systemd-nspawn nsenter zstd tar jq curl ip ss pgrep haproxy vegeta go; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-tools.sh"
done
[ -x "$BIN" ] || fail "no binary at $BIN: run make build"
[[ $SCALE =~ ^[1-9][0-9]?$ ]] || fail "LAB_TIME_SCALE=$SCALE: want a whole number from 1 to 99"
[[ $N =~ ^[2-9]$ ]] || fail "LAB_INSTANCES=$N: want 2 to 9"
[[ $RATE =~ ^[1-9][0-9]{0,3}$ ]] || fail "LAB_RATE=$RATE: want 1 to 9999 requests per second"

contract() { jq -er ".$1" "$REPO/contract/contract.json"; }
UNIT=$(contract unit) PORT=$(contract port) HEALTH=$(contract health_path) OK_BODY=$(contract health_ok_body)
WATCHDOG_S=$(contract watchdog_seconds) STOP_S=$(contract stop_timeout_seconds)
# The load balancer's check and the drain, in milliseconds, divided by the time scale. rise and fall
# are counts: they stay.
INTER_MS=$(($(contract health_check.interval_seconds) * 1000 / SCALE))
TIMEOUT_MS=$(($(contract health_check.timeout_seconds) * 1000 / SCALE))
RISE=$(contract health_check.healthy_threshold) FALL=$(contract health_check.unhealthy_threshold)
DRAIN_MS=$(($(contract drain_delay_seconds) * 1000 / SCALE))
# An instance is out of rotation at the latest fall x (inter + timeout) after /health fails (the
# verdicts allow half an interval more: scripts/lab/verdict).
OUT_LIMIT_MS=$((FALL * (INTER_MS + TIMEOUT_MS))) IN_LIMIT_MS=$((RISE * (INTER_MS + TIMEOUT_MS)))
((DRAIN_MS > OUT_LIMIT_MS)) || fail "drain ${DRAIN_MS} ms <= fall x (inter + timeout) = ${OUT_LIMIT_MS} ms: no drain could be clean"

WORK=$(mktemp -d /var/tmp/scaleapp-lab.XXXXXX)
# Subnets 10.234.20-99 (the image test takes 100 and up), so both can run at once.
C_NEXT_SUBNET=$((20 + ($$ % 10) * 8))
ID=lab$(($$ % 100000)) # machine names: lab<pid>n<k>, at most 12 characters
declare -a PIDS=()     # haproxy and the watcher
VEGETA=''              # the load of the running scenario
lab_cleanup() {
  local rc=$? i
  set +e # an EXIT trap must run to its end
  # The load first, then the watcher, then haproxy (the watcher would report its socket gone).
  for i in $VEGETA $(printf '%s\n' "${PIDS[@]}" | tac); do
    kill -TERM "$i" 2>/dev/null && wait "$i" 2>/dev/null
  done
  # Every container starts its halt now, so cleanup_all's stops overlap instead of adding up.
  for i in "${C_PID[@]}"; do kill -TERM "$i" 2>/dev/null; done
  (exit "$rc")
  cleanup_all
}
trap lab_cleanup EXIT
trap 'exit 130' INT TERM

ms() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); } # milliseconds as seconds, for durations
mark() { printf '%s %s\n' "$(date +%s%N)" "$*" >>"$WORK/marks"; }
lab() { "$WORK/lab" "$@"; }
hactl() { lab ctl -socket "$WORK/haproxy.sock" "$@"; }
hstatus() { lab status -socket "$WORK/haproxy.sock" "$1" 2>/dev/null || true; }
# wait_status SERVER PATTERN MS: until HAProxy's status of SERVER matches the extended regex.
wait_status() {
  local deadline=$(($(now_ms) + $3))
  until [[ $(hstatus "$1") =~ ^($2)$ ]]; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}
http() { curl -s --noproxy '*' -m 2 "${@:3}" "http://${C_IP[$1]}:$PORT$2" || true; }

say "work dir $WORK; time scale 1/$SCALE: check every $(ms $INTER_MS) s, timeout $(ms $TIMEOUT_MS) s, rise $RISE, fall $FALL; DRAIN_DELAY $(ms $DRAIN_MS) s; $N instances; $RATE req/s"

########## the image: root filesystem, install.sh as the bake runs it
phase "root filesystem + install.sh"
lab_bin_build() { (cd "$REPO" && go build -o "$WORK/lab" ./scripts/lab); }
lab_bin_build &
build_pid=$!
TARBALL=$("$REPO/packer/test/rootfs.sh")
mkdir "$WORK/root"
zstd -dc "$TARBALL" | tar --numeric-owner --xattrs --xattrs-include='*' --acls -x -C "$WORK/root"
# The AMI's env file; scaled, its DRAIN_DELAY follows the scale like the checks do.
sed "s/^DRAIN_DELAY=.*/DRAIN_DELAY=${DRAIN_MS}ms/" "$REPO/packer/scaleapp.env" >"$WORK/scaleapp.env"
grep -qx "DRAIN_DELAY=${DRAIN_MS}ms" "$WORK/scaleapp.env" || fail "no DRAIN_DELAY line in packer/scaleapp.env"
say "env file: packer/scaleapp.env with DRAIN_DELAY=${DRAIN_MS}ms (its $(contract drain_delay_seconds) s / time scale $SCALE)"
"$REPO/packer/install.sh" --root "$WORK/root" --bin "$BIN" --env "$WORK/scaleapp.env" install
"$REPO/packer/install.sh" --root "$WORK/root" cleanup
# Each instance must say who it is (GET / answers its hostname off EC2): with /etc/hostname empty,
# systemd keeps the one nspawn sets, the machine name, which is also its HAProxy server name.
: >"$WORK/root/etc/hostname"
wait "$build_pid" || fail "go build ./scripts/lab failed"

########## HAProxy in place of the ALB
phase "haproxy"
while :; do
  FRONT=$((20000 + RANDOM % 20000))
  [ -z "$(ss -Hltn "sport = :$FRONT")" ] && break
done
cat >"$WORK/haproxy.cfg" <<CFG
# Generated by scripts/lab.sh: HAProxy standing in for the ALB and its target group.
global
  maxconn 4096
  stats socket $WORK/haproxy.sock mode 600 level admin
  log stderr format iso local0 notice
  hard-stop-after 5s

defaults
  mode http
  log global
  # ALB: 10 s to connect to a target, 60 s idle timeout (client side and server side; a target that
  # does not answer within it is a 504); a failed request is not retried on another target.
  timeout connect 10s
  timeout client 60s
  timeout http-keep-alive 60s
  timeout server 60s
  retries 0

frontend alb
  bind 127.0.0.1:$FRONT
  default_backend targets

backend targets
  # ALB: round robin, no slow start, connections to targets pooled and shared between clients. The
  # service's idle timeout (75 s) is above every idle timeout here, so HAProxy always closes first.
  balance roundrobin
  http-reuse always
  # The target group's health check (contract.json health_check, divided by the time scale): GET
  # $HEALTH, 200 only; inter/rise/fall are given to each server as it is added (scripts/lab.sh).
  option httpchk
  http-check send meth GET uri $HEALTH ver HTTP/1.1 hdr Host lab
  http-check expect status 200
  # HAProxy bounds a check by min(timeout connect, inter), then timeout check for the answer: both at
  # the target group's timeout make a check last at most that long, as the ALB's does (a frozen
  # process still accepts the TCP connection; only the answer times out).
  timeout check ${TIMEOUT_MS}ms
  timeout connect ${TIMEOUT_MS}ms
CFG
haproxy -c -q -f "$WORK/haproxy.cfg" || fail "haproxy rejects $WORK/haproxy.cfg"
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
retry 100 0.05 test -S "$WORK/haproxy.sock" || fail "haproxy did not start: $(cat "$WORK/haproxy.log")"
"$WORK/lab" watch -socket "$WORK/haproxy.sock" -out "$WORK/events" & # not through lab(): kill must reach it
PIDS+=($!)
echo "GET http://127.0.0.1:$FRONT/" >"$WORK/targets"
say "haproxy on 127.0.0.1:$FRONT (pid ${PIDS[0]}), runtime socket $WORK/haproxy.sock; timeline polled every 100 ms"

########## instances
declare -a FLEET=()
NEXT=1
# launch: boots the next instance from the image and registers it as the ASG does at launch. Sets NEW.
# An ALB target starts "initial" and takes traffic only after RISE passing checks. HAProxy 2.6 puts a
# server leaving maintenance straight into rotation (UP, until a check fails), so the server is added
# with weight 0 and its health forced down; admit gives it its weight once HAProxy's own checks have
# brought it UP.
launch() {
  NEW=${ID}n$NEXT
  NEXT=$((NEXT + 1))
  container_boot "$NEW" "$WORK/root"
  hactl -want 'New server registered.' add server "targets/$NEW" "${C_IP[$NEW]}:$PORT" \
    check inter "$INTER_MS" fall "$FALL" rise "$RISE" weight 0
  hactl "enable health targets/$NEW; enable server targets/$NEW; set server targets/$NEW health down"
  FLEET+=("$NEW")
}
# admit NAME MS: waits (at most MS) until HAProxy's checks have taken NAME UP, then gives it its weight.
admit() {
  wait_status "$1" 'UP \(weight 0\)' "$2" || return 1
  hactl set weight "targets/$1" 1
}
# deregister NAME: out of the target group (no new requests, what is in flight finishes), the
# deregistration delay, then gone.
deregister() {
  hactl set server "targets/$1" state drain
  mark deregister "$1"
  sleep "$(ms $DRAIN_MS)"
  hactl set server "targets/$1" state maint
  # An idle pooled connection keeps HAProxy from deleting the server for a moment.
  retry 50 0.1 hactl -want 'Server deleted.' del server "targets/$1" || fail "could not delete server $1"
  local f=()
  for x in "${FLEET[@]}"; do [ "$x" = "$1" ] || f+=("$x"); done
  FLEET=("${f[@]}")
}
# terminate NAME: the instance shuts down (systemd stops the unit: its own drain runs again), in the
# background as the ASG goes on with the next one; terminated waits for them.
declare -a HALTING=()
terminate() {
  (
    container_stop "$1" $((STOP_S + 5))
    mark halted "$1"
  ) &
  HALTING+=("$1:$!")
}
terminated() {
  local h
  for h in "${HALTING[@]}"; do
    wait "${h#*:}" || fail "stopping ${h%%:*} failed"
    unset "C_PID[${h%%:*}]" # stopped and its cgroup removed, in the subshell
  done
  HALTING=()
}

phase "boot $N instances"
t0=$(now_ms)
for ((i = 0; i < N; i++)); do launch; done
for s in "${FLEET[@]}"; do
  admit "$s" $((30000 + IN_LIMIT_MS)) || fail "$s never came UP in haproxy ($(hstatus "$s")); journal: $(cexec "$s" journalctl -u "$UNIT" -n 20 --no-pager)"
done
say "${FLEET[*]} in rotation $(ms $(($(now_ms) - t0))) s after the first boot"

########## scenarios
SCEN='' SDIR=''
begin() {
  SCEN=$1 SDIR=$WORK/$1
  mkdir "$SDIR"
  phase "scenario $SCEN"
  mark begin "$SCEN"
  vegeta attack -rate="$RATE/1s" -duration=0 -timeout=30s -targets="$WORK/targets" -output="$SDIR/results.bin" 2>"$SDIR/vegeta.log" &
  VEGETA=$!
  sleep 1 # a second of steady load before anything happens
}
# end [NOTE]: stops the load (SIGINT: vegeta writes every result), then the timeline and verdict.
end() {
  sleep 1
  mark end "$SCEN"
  kill -INT "$VEGETA"
  wait "$VEGETA" || fail "vegeta failed: $(cat "$SDIR/vegeta.log")"
  VEGETA=''
  vegeta report -type=json "$SDIR/results.bin" >"$SDIR/report.json"
  vegeta encode --to json "$SDIR/results.bin" >"$SDIR/results.json"
  lab report -scenario "$SCEN" -events "$WORK/events" -marks "$WORK/marks" -results "$SDIR/results.json" \
    -vegeta-report "$SDIR/report.json" -rows "$WORK/rows" -note "${1:-}" \
    -inter "${INTER_MS}ms" -timeout "${TIMEOUT_MS}ms" -rise "$RISE" -fall "$FALL" -drain "${DRAIN_MS}ms"
}

# 1. Every instance in rotation answers.
begin spread
sleep 5
end

# 2. POST /health/fail on one instance; DELETE /health/fail ends it (service/httpapi/health.go).
begin injected-failure
victim=${FLEET[0]}
[[ $(http "$victim" /health/fail -X POST -w ' %{http_code}') == *' 200' ]] || fail "POST /health/fail refused"
mark inject "$victim"
wait_status "$victim" 'DOWN.*' $((OUT_LIMIT_MS + 5000)) || say "$victim did not leave rotation (the verdict says so)"
sleep "$(ms "$INTER_MS")"
[[ $(http "$victim" /health/fail -X DELETE -w ' %{http_code}') == *' 200' ]] || fail "DELETE /health/fail refused"
mark clear "$victim"
wait_status "$victim" UP $((IN_LIMIT_MS + 5000)) || say "$victim did not come back (the verdict says so)"
end

# 3. SIGSTOP: HAProxy's checks time out, the watchdog kills and restarts the unit.
begin frozen
victim=${FLEET[1]}
main_pid=$(cexec "$victim" systemctl show -p MainPID --value "$UNIT")
cexec "$victim" sh -c "kill -STOP $main_pid"
mark freeze "$victim"
deadline=$(($(now_ms) + (WATCHDOG_S + 20) * 1000))
until [ "$(cexec "$victim" systemctl show -p NRestarts --value "$UNIT" || echo 0)" -ge 1 ]; do
  [ "$(now_ms)" -lt "$deadline" ] || fail "no watchdog restart within $((WATCHDOG_S + 20)) s of SIGSTOP"
  sleep 0.1
done
mark restarted "$victim"
wait_status "$victim" UP $((IN_LIMIT_MS + 10000)) || say "$victim did not come back (the verdict says so)"
end

# 4. Instance refresh (terraform/compute.tf: min healthy 100 %): for each instance, launch a replacement,
#    wait until it is in rotation, deregister the old one, then terminate it.
begin rolling-refresh
for old in "${FLEET[@]}"; do
  mark launch "${ID}n$NEXT"
  launch
  admit "$NEW" $((30000 + IN_LIMIT_MS)) || fail "replacement $NEW never came UP"
  deregister "$old"
  terminate "$old"
done
terminated
end

# 5. Scale-in the hard way: `systemctl stop scaleapp` while the instance takes traffic; the balancer learns it
#    only from /health (503 DRAINING), as with a spot notice or a lifecycle Terminated state.
begin scale-in
victim=${FLEET[0]}
mark stop "$victim"
t0=$(now_ms)
cexec "$victim" systemctl stop "$UNIT"
stop_ms=$(($(now_ms) - t0))
mark stopped "$victim"
end "the unit stopped (drain and exit) in $(ms $stop_ms) s"
deregister "$victim"
terminate "$victim"
terminated

# 6. Scale-out: a new instance booted under load.
begin scale-out
mark boot "${ID}n$NEXT"
launch
t0=$(now_ms)
until [ "$(http "$NEW" "$HEALTH")" = "$OK_BODY" ]; do
  [ $(($(now_ms) - t0)) -lt 30000 ] || fail "$NEW: /health never $OK_BODY"
  sleep 0.02
done
mark healthy "$NEW"
admit "$NEW" $((IN_LIMIT_MS + 5000)) || say "$NEW never came UP in haproxy (the verdict says so)"
sleep 1
end

# 7. CPU spike: /cpu burns every core of every instance; nobody is pulled for being busy.
begin cpu-spike
sleep "$(ms $((2 * INTER_MS)))" # quiet checks to compare with
spike_s=$(((3 * OUT_LIMIT_MS + 999) / 1000))
for s in "${FLEET[@]}"; do
  [[ $(http "$s" "/cpu?seconds=$spike_s" -X POST -w ' %{http_code}') == *' 202' ]] || fail "POST /cpu refused by $s"
done
mark cpu-start
read -ra c0 < <(grep '^cpu ' /proc/stat)
sleep "$spike_s"
read -ra c1 < <(grep '^cpu ' /proc/stat)
mark cpu-end
busy=$(((c1[1] + c1[2] + c1[3] + c1[6] + c1[7] + c1[8]) - (c0[1] + c0[2] + c0[3] + c0[6] + c0[7] + c0[8])))
idle=$(((c1[4] + c1[5]) - (c0[4] + c0[5])))
end "host CPU $((busy * 100 / (busy + idle)))% busy for ${spike_s} s"

########## summary
print_timings
say "summary (requests and failures counted by vegeta, rotation times by HAProxy; time scale 1/$SCALE):"
lab summary -rows "$WORK/rows" || fail "a scenario failed (its timeline above says why)"
say "fleet lab: all green"
