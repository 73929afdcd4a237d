#!/usr/bin/env bash
# The golden image, proven under a real systemd (Debian 12: systemd 252, as on Amazon Linux 2023):
#   1. the unit as installed by packer/install.sh passes systemd-analyze verify (no output at all) and
#      security (exposure <= 2.0);
#   2. BOOT TEST: the installed, cleaned root filesystem boots in a container and, checked from the host,
#      the unit is active/running through READY=1 (start-to-READY and boot-to-healthy measured), /health
#      answers UP, the journal holds zerolog JSON, STATUS= shows in `systemctl status`, a frozen process
#      is killed by the watchdog and restarted, /cpu fills every core, `systemctl stop` drains and exits 0;
#   3. LOCAL BAKE: `packer build -only=null.local` of packer/ into a fresh container over SSH, as ec2-user
#      with passwordless sudo like on AL2023, passes the health gate, and a bake with a broken env file
#      (PORT=99999) fails it, showing the unit's journal.
# Needs root, the binary (make build) and the tools of scripts/install-tools.sh. `make test-image` runs it.
# The root filesystem is built once and cached (packer/test/rootfs.sh). Everything it starts is removed
# on exit, failure included.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PACKER_DIR=$(dirname "$HERE")
REPO=$(dirname "$PACKER_DIR")
# shellcheck source=SCRIPTDIR/lib.sh
. "$HERE/lib.sh"

TOOLS=${SCALEAPP_TOOLS:-$HOME/.cache/scaleapp-tools}
export PATH=$TOOLS/bin:$PATH
export PACKER_PLUGIN_PATH=${PACKER_PLUGIN_PATH:-$TOOLS/packer-plugins}
BIN=${SCALEAPP_BIN:-$REPO/bin/scaleapp}

########## preflight
[ "$(id -u)" = 0 ] || fail "needs root (systemd-nspawn, cgroups, veth)"
for tool in systemd-nspawn systemd-analyze nsenter zstd tar jq curl ssh ssh-keygen ip pgrep packer; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-tools.sh"
done
[ -x "$BIN" ] || fail "no binary at $BIN: run make build"

# The names and numbers under test come from the contract, as they do for the unit and the template.
contract() { jq -er ".$1" "$REPO/contract/contract.json"; }
UNIT=$(contract unit) PORT=$(contract port) HEALTH=$(contract health_path) OK_BODY=$(contract health_ok_body)
DRAIN_S=$(contract drain_delay_seconds) WATCHDOG_S=$(contract watchdog_seconds)
NCPU=$(nproc)

WORK=$(mktemp -d /var/tmp/scaleapp-image-test.XXXXXX)
trap cleanup_all EXIT
trap 'exit 130' INT TERM
say "work dir $WORK, binary $BIN ($(stat -c %s "$BIN") bytes), $NCPU CPUs"

# http NAME PATH [CURL-ARGS...]: body of a request to the service in container NAME ("" when unreachable).
http() {
  local name=$1 path=$2
  shift 2
  curl -s --noproxy '*' -m 2 "$@" "http://${C_IP[$name]}:$PORT$path" || true
}
# wait_health NAME WANT SECONDS: until /health answers WANT; prints the milliseconds it took.
wait_health() {
  local t0 deadline
  t0=$(now_ms) deadline=$(($(now_ms) + $3 * 1000))
  until [ "$(http "$1" "$HEALTH")" = "$2" ]; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.02
  done
  echo $(($(now_ms) - t0))
}
declare -A U=()
unit_show() { # NAME: loads the unit's properties into U
  local k v
  U=()
  while IFS='=' read -r k v; do U[$k]=$v; done < <(cexec "$1" systemctl show "$UNIT" --no-pager \
    -p ActiveState,SubState,Result,NRestarts,MainPID,StatusText,ExecMainStatus \
    -p ExecMainStartTimestampMonotonic,ActiveEnterTimestampMonotonic)
}
journal() { cexec "$1" journalctl -u "$UNIT" -o cat --no-pager; }

########## root filesystem
phase "root filesystem (cache, or debootstrap once)"
TARBALL=$("$HERE/rootfs.sh")
mkdir "$WORK/base"
zstd -dc "$TARBALL" | tar --numeric-owner --xattrs --xattrs-include='*' --acls -x -C "$WORK/base"
# SSH for the bakes: a fresh host key pinned in our known_hosts, and a key for ec2-user (the AL2023 login,
# passwordless sudo: packer/test/rootfs.sh) made for this run. No root login, as on AL2023.
ssh-keygen -q -t ed25519 -N '' -C scaleapp-image-test-host -f "$WORK/base/etc/ssh/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -C scaleapp-image-test -f "$WORK/id_ed25519"
ec2_ids=$(awk -F: '$1 == "ec2-user" {print $3 ":" $4}' "$WORK/base/etc/passwd")
[ -n "$ec2_ids" ] || fail "no ec2-user in $TARBALL: rebuild it (packer/test/rootfs.sh --rebuild)"
install -d -m 0700 -o "${ec2_ids%:*}" -g "${ec2_ids#*:}" "$WORK/base/home/ec2-user/.ssh"
install -m 0600 -o "${ec2_ids%:*}" -g "${ec2_ids#*:}" "$WORK/id_ed25519.pub" "$WORK/base/home/ec2-user/.ssh/authorized_keys"
cat >"$WORK/base/etc/ssh/sshd_config.d/10-image-test.conf" <<'CONF'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
CONF
cp -a "$WORK/base" "$WORK/boot"
say "unpacked $(du -sh "$WORK/base" | cut -f1) from $TARBALL"

########## install + static checks
phase "install.sh into the root (offline)"
"$PACKER_DIR/install.sh" --root "$WORK/boot" --bin "$BIN" install
"$PACKER_DIR/install.sh" --root "$WORK/boot" cleanup
[ -L "$WORK/boot/etc/systemd/system/multi-user.target.wants/$UNIT" ] || fail "$UNIT is not enabled"
[ ! -s "$WORK/boot/etc/machine-id" ] || fail "machine-id not emptied by cleanup"
! compgen -G "$WORK/boot/etc/ssh/ssh_host_*" >/dev/null || fail "SSH host keys left by cleanup: $(echo "$WORK"/boot/etc/ssh/ssh_host_*)"
[ ! -e "$WORK/boot/var/lib/systemd/random-seed" ] || fail "random-seed left by cleanup"
cmp -s "$BIN" "$WORK/boot$(contract binary_path)" || fail "binary not installed at $(contract binary_path)"

phase "systemd-analyze verify + security"
out=$(systemd-analyze verify --root="$WORK/boot" "$UNIT" 2>&1) || fail "systemd-analyze verify failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed (any output fails): $out"
say "verify: clean"
if ! out=$(systemd-analyze security --offline=yes --root="$WORK/boot" --threshold=20 --no-pager "$UNIT" 2>&1); then
  printf '%s\n' "$out" | grep -E '✗|Overall' >&2 || true
  fail "systemd-analyze security: exposure above 2.0"
fi
EXPOSURE=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
say "security: overall exposure $EXPOSURE (threshold 2.0)"

########## boot test
phase "boot to healthy"
t_boot=$(now_ms)
container_boot sa$$b "$WORK/boot"
wait_health sa$$b "$OK_BODY" 30 >/dev/null || { journal sa$$b >&2 || true; fail "/health never answered $OK_BODY"; }
BOOT_TO_HEALTHY_MS=$(($(now_ms) - t_boot))
say "boot (nspawn start) to /health $OK_BODY: $BOOT_TO_HEALTHY_MS ms"
container_wait_running sa$$b

phase "unit state, READY=1, journal, STATUS="
unit_show sa$$b
[ "${U[ActiveState]}/${U[SubState]}" = active/running ] || fail "unit is ${U[ActiveState]}/${U[SubState]}"
[ "${U[NRestarts]}" = 0 ] || fail "NRestarts=${U[NRestarts]} after boot"
START_TO_READY_MS=$(((U[ActiveEnterTimestampMonotonic] - U[ExecMainStartTimestampMonotonic]) / 1000))
[ "$START_TO_READY_MS" -ge 0 ] || fail "bad timestamps: ${U[*]}"
say "active/running; start-to-READY $START_TO_READY_MS ms (goal < 100 ms$([ "$START_TO_READY_MS" -lt 100 ] || echo ': MISSED, is the machine busy?'))"
[ -n "${U[StatusText]}" ] || fail "no STATUS= text from the service"
cexec sa$$b systemctl status "$UNIT" --no-pager -n 0 | grep -F "Status: \"${U[StatusText]}\"" >/dev/null ||
  fail "STATUS= text '${U[StatusText]}' not in systemctl status"
say "systemctl status shows Status: \"${U[StatusText]}\""
json_lines=$(journal sa$$b | jq -Rc 'fromjson? | objects | select(has("level") and has("message"))' | wc -l)
[ "$json_lines" -gt 0 ] || { journal sa$$b >&2; fail "no zerolog JSON line in the journal"; }
say "journal: $json_lines zerolog JSON lines, e.g. $(journal sa$$b | jq -Rc 'fromjson? | objects | select(has("level"))' | head -n1)"

phase "watchdog: a frozen service is restarted"
old_pid=${U[MainPID]}
t0=$(now_ms)
cexec sa$$b sh -c "kill -STOP $old_pid"
deadline=$(($(now_ms) + (WATCHDOG_S + 20) * 1000))
until unit_show sa$$b && [ "${U[NRestarts]}" -ge 1 ] && [ "${U[SubState]}" = running ]; do
  [ "$(now_ms)" -lt "$deadline" ] || { journal sa$$b | tail -n 20 >&2; fail "no restart within $((WATCHDOG_S + 20)) s of SIGSTOP"; }
  sleep 0.2
done
wait_health sa$$b "$OK_BODY" 10 >/dev/null || fail "/health not $OK_BODY after the watchdog restart"
WATCHDOG_RECOVERY_MS=$(($(now_ms) - t0))
[ "${U[MainPID]}" != "$old_pid" ] || fail "MainPID unchanged after the watchdog restart"
[[ $(journal sa$$b) == *'Watchdog timeout'* ]] || fail "journal does not show the watchdog timeout"
say "SIGSTOP -> 'Watchdog timeout' -> restarted (NRestarts=${U[NRestarts]}) -> /health $OK_BODY in $WATCHDOG_RECOVERY_MS ms"

phase "/cpu fills every core"
job=$(http sa$$b "/cpu?seconds=30&load=100&workers=$NCPU" -X POST -w ' %{http_code}')
[ "${job##* }" = 202 ] || fail "POST /cpu answered: $job"
sleep 1.5 # let the workers start
cg=${C_CG[sa$$b]}
read -ra s0 < <(grep '^cpu ' /proc/stat)
u0=$(cgroup_cpu_usec "$cg") d0=$(cgroup_demand_usec "$cg") t0=$(date +%s%N)
sleep 5
u1=$(cgroup_cpu_usec "$cg") d1=$(cgroup_demand_usec "$cg") t1=$(date +%s%N)
idle_threads=$(cgroup_idle_threads "$cg" "$UNIT")
read -ra s1 < <(grep '^cpu ' /proc/stat)
http sa$$b /cpu -X DELETE >/dev/null
# Per mille of (wall time x cores): what the container's cgroup used, what its threads asked for (ran or
# waited runnable), and how busy the host's cores were (/proc/stat). On an idle machine, used >= 95%.
# On a machine busy with other work the service cannot get every core, and "asked for" proves nothing
# (SCHED_IDLE burners wait whenever anything else runs, and quota throttling counts as waiting too):
# then it passes only if the cores were full and systemd shows no CPU cap on the unit, and says that
# the 95% goal was not proven on this run.
pm() { echo $(($1 * 1000000 / ((t1 - t0) * NCPU))); }
fmt_pm() { echo "$(($1 / 10)).$(($1 % 10))%"; }
CPU_PCT=$(pm $((u1 - u0))) demand=$(pm $((d1 - d0)))
busy0=$((s0[1] + s0[2] + s0[3] + s0[6] + s0[7] + s0[8])) busy1=$((s1[1] + s1[2] + s1[3] + s1[6] + s1[7] + s1[8]))
host_pm=$(((busy1 - busy0) * 1000 / (busy1 - busy0 + s1[4] + s1[5] - s0[4] - s0[5])))
say "/cpu: container used $(fmt_pm "$CPU_PCT") of $NCPU cores, asked for $(fmt_pm "$demand"); host cores busy $(fmt_pm "$host_pm")"
# The burners run at SCHED_IDLE so /health stays fast under load: the unit's syscall filter must allow it.
[ "$idle_threads" -ge "$NCPU" ] || fail "only $idle_threads threads of $UNIT at SCHED_IDLE during /cpu, want >= $NCPU"
say "$idle_threads threads of $UNIT at SCHED_IDLE (the burners), as the service intends"
all_cpus=0-$((NCPU - 1))
[ "$NCPU" -gt 1 ] || all_cpus=0
# What systemd says caps the unit, checked on every run (the fallback below rests on it). EffectiveCPUs is
# empty when cpuset is not on the cgroup2 hierarchy (hybrid hosts): then the main process's affinity.
caps=$(cexec sa$$b systemctl show -p CPUQuotaPerSecUSec,AllowedCPUs,EffectiveCPUs "$UNIT" | tr '\n' ' ')
if [[ $caps == *"EffectiveCPUs= "* ]]; then
  unit_show sa$$b
  affinity=$(cexec sa$$b grep '^Cpus_allowed_list:' "/proc/${U[MainPID]}/status") || fail "no affinity for PID ${U[MainPID]}"
  caps+="Cpus_allowed_list=${affinity##*[[:space:]]} "
fi
say "unit CPU limits: $caps(all CPUs: $all_cpus)"
[[ $caps == *"CPUQuotaPerSecUSec=infinity "* ]] || fail "the unit has a CPU quota: $caps"
[[ $caps == *"AllowedCPUs= "* || $caps == *"AllowedCPUs=$all_cpus "* ]] || fail "the unit is pinned to some CPUs: $caps"
[[ $caps == *"EffectiveCPUs=$all_cpus "* || $caps == *"Cpus_allowed_list=$all_cpus "* ]] ||
  fail "the unit cannot be shown to run on every CPU: $caps"
if [ "$CPU_PCT" -lt 950 ]; then
  # On a busy host the idle-priority burners yield to everything else: only an explicit opt-in accepts
  # "nothing caps it" in place of the measured 95% (CI runs the test alone and needs no opt-in).
  if [ "$((demand >= 950 && host_pm >= 950))" != 1 ] || [ "${IMAGE_TEST_ALLOW_BUSY_HOST:-}" != 1 ]; then
    fail "/cpu drove only $(fmt_pm "$CPU_PCT") of $NCPU cores (want >= 95%), asking for $(fmt_pm "$demand"); on a busy host, IMAGE_TEST_ALLOW_BUSY_HOST=1 accepts proof that nothing caps it"
  fi
  say "WARNING: /cpu >= 95% NOT PROVEN on this run: other processes held $(fmt_pm $((host_pm - CPU_PCT))) of the cores; shown only that nothing in the unit caps it (no quota, every CPU)"
fi

phase "systemctl stop drains and exits 0"
t0=$(now_ms)
cexec sa$$b systemctl stop "$UNIT" &
stop_pid=$!
draining=$(wait_health sa$$b DRAINING 5) || fail "/health did not turn DRAINING on stop"
wait "$stop_pid" || fail "systemctl stop failed"
STOP_MS=$(($(now_ms) - t0))
unit_show sa$$b
[ "${U[Result]}/${U[ExecMainStatus]}/${U[ActiveState]}" = success/0/inactive ] ||
  fail "after stop: Result=${U[Result]} ExecMainStatus=${U[ExecMainStatus]} ActiveState=${U[ActiveState]}"
[ "$STOP_MS" -ge $((DRAIN_S * 1000 - 500)) ] || fail "stopped in $STOP_MS ms: shorter than the ${DRAIN_S} s drain"
say "/health DRAINING after $draining ms; stopped in $STOP_MS ms (drain ${DRAIN_S} s); Result=success, exit 0"
container_stop sa$$b

########## local bake through Packer
phase "packer plugin (packer/plugin/install.sh)"
bash "$PACKER_DIR/plugin/install.sh" >"$WORK/plugin-install.log" 2>&1 || { cat "$WORK/plugin-install.log" >&2; fail "packer/plugin/install.sh failed"; }

# bake NAME OUT [PACKER-ARGS...]: boots a fresh container from the base root, waits for SSH, runs the
# local build of packer/ against it; returns packer's exit code, its output in OUT.
bake() {
  local name=$1 out=$2 rc=0
  shift 2
  container_boot "$name" "$WORK/base"
  echo "${C_IP[$name]} $(cut -d' ' -f1-2 "$WORK/base/etc/ssh/ssh_host_ed25519_key.pub")" >"$WORK/known_hosts"
  # A refused connect costs Packer 5 s before it retries: go only once a real login works.
  retry 100 0.1 ssh -q -i "$WORK/id_ed25519" -o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$WORK/known_hosts" "ec2-user@${C_IP[$name]}" sudo -n true || fail "$name: no SSH login with sudo"
  packer build -only='null.local' -color=false -var "local_ssh_host=${C_IP[$name]}" \
    -var "local_ssh_key=$WORK/id_ed25519" -var "binary=$WORK/scaleapp-image-test" -var version=image-test \
    -var "git_commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo none)" \
    -var "manifest_output=$WORK/manifest.json" "$@" "$PACKER_DIR" >"$out" 2>&1 || rc=$?
  sed 's/^/    | /' "$out"
  return "$rc"
}

phase "packer build -only=null.local (health gate passes)"
# A binary not named "scaleapp" (as with -var binary=bin/scaleapp-arm64): install.sh gets it by --bin.
cp "$BIN" "$WORK/scaleapp-image-test"
t0=$(now_ms)
bake sa$$k "$WORK/bake-ok.log" || fail "the local bake failed (output above)"
BAKE_MS=$(($(now_ms) - t0))
grep -q 'image cleaned for capture' "$WORK/bake-ok.log" || fail "the cleanup step did not run"
jq -e '.builds[-1].builder_type == "null"' "$WORK/manifest.json" >/dev/null || fail "manifest has no null build"
[ "$(cexec sa$$k systemctl is-active "$UNIT")" = active ] || fail "unit not active after the bake"
[ -z "$(cexec sa$$k cat /etc/machine-id)" ] || fail "machine-id not emptied by the bake's cleanup"
[ -z "$(cexec sa$$k find /etc/ssh /var/lib/systemd -name 'ssh_host_*' -o -name random-seed)" ] ||
  fail "the bake's cleanup left SSH host keys or the random seed"
grep -q 'through sudo -n' "$WORK/bake-ok.log" || fail "the health gate did not take its sudo -n path (ec2-user login)"
say "bake passed in $BAKE_MS ms (boot + SSH as ec2-user + provisioners via sudo -n + health gate + cleanup)"
container_stop sa$$k 1 # the bake left scaleapp running: no need to wait for its drain

phase "packer build with a broken env (health gate fails)"
sed 's/^PORT=.*/PORT=99999/' "$PACKER_DIR/scaleapp.env" >"$WORK/broken.env"
grep -q '^PORT=99999$' "$WORK/broken.env" || fail "could not make the broken env file"
if bake sa$$x "$WORK/bake-broken.log" -var "env_file=$WORK/broken.env"; then
  fail "the bake with PORT=99999 passed: the health gate let a broken service through"
fi
grep -q "enabled $UNIT" "$WORK/bake-broken.log" || fail "the broken bake failed before install.sh ran"
! grep -q 'image cleaned for capture' "$WORK/bake-broken.log" || fail "the cleanup ran after a failed gate"
grep -E "scaleapp\[[0-9]+\]: .*PORT" "$WORK/bake-broken.log" >/dev/null ||
  fail "the failed gate's output holds no journal line of $UNIT naming PORT"
say "the gate failed the build as it should, with the journal: $(grep -E "scaleapp\[[0-9]+\]: .*PORT" "$WORK/bake-broken.log" | head -n1 | sed 's/^ *| *//')"
container_stop sa$$x

########## figures
print_timings
say "figures: exposure $EXPOSURE | start-to-READY $START_TO_READY_MS ms | boot-to-healthy $BOOT_TO_HEALTHY_MS ms | watchdog recovery $WATCHDOG_RECOVERY_MS ms | stop (drain ${DRAIN_S} s) $STOP_MS ms | /cpu $((CPU_PCT / 10)).$((CPU_PCT % 10))% of $NCPU cores | local bake $BAKE_MS ms"
say "image test: all green"
