# shellcheck shell=bash
# Helpers for packer/test/image-test.sh: phases with timings, and systemd containers booted with
# systemd-nspawn from a root filesystem (see packer/README.md, "Local boot test and bake").
#
# Every container runs inside a cgroup of its own (else nspawn leaves empty payload/supervisor cgroups at
# the top of the tree, and we could not measure its CPU), on a private veth link: the host side is
# 10.234.S.1/30 and the container 10.234.S.2/30. A private network means the service listens on the
# contract's port 8080 without clashing with anything on the host, and its IMDS lookups fail at once
# (no route) instead of reaching out. cleanup_all (an EXIT trap) stops every container, kills what is
# left in its cgroup, removes the cgroups and the work directory.

# LIB_TAG names the caller in log lines and cgroup names (scripts/lab.sh sets "lab").
LIB_TAG=${LIB_TAG:-image-test}
say() { printf '[%s %s] %s\n' "$LIB_TAG" "$(date +%T)" "$*"; }
fail() { printf '[%s %s] FAIL: %s\n' "$LIB_TAG" "$(date +%T)" "$*" >&2; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

PHASE_NAME='' PHASE_T0=0 SUITE_T0=$(now_ms)
declare -a TIMINGS=()
phase() { # NAME: ends the previous phase (printing its time) and starts the next
  phase_end
  PHASE_NAME=$1 PHASE_T0=$(now_ms)
  say "== $PHASE_NAME"
}
phase_end() {
  [ -n "$PHASE_NAME" ] || return 0
  local ms=$(($(now_ms) - PHASE_T0))
  TIMINGS+=("$(printf '%-52s %5d.%01d s' "$PHASE_NAME" $((ms / 1000)) $((ms % 1000 / 100)))")
  say "   $PHASE_NAME: $((ms / 1000)).$((ms % 1000 / 100)) s"
  PHASE_NAME=''
}
print_timings() {
  phase_end
  say "timings:"
  local t
  for t in "${TIMINGS[@]}"; do printf '    %s\n' "$t"; done
  local ms=$(($(now_ms) - SUITE_T0))
  printf '    %-52s %5d.%01d s\n' total $((ms / 1000)) $((ms % 1000 / 100))
}

# retry TRIES SLEEP CMD...: runs CMD until it succeeds, at most TRIES times.
retry() {
  local tries=$1 pause=$2 i
  shift 2
  for ((i = 1; i <= tries; i++)); do
    "$@" && return 0
    sleep "$pause"
  done
  return 1
}

########## cgroups
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  CG2=/sys/fs/cgroup CG1=''
else # hybrid: cgroup2 beside the v1 controllers; systemd's named v1 hierarchy needs a cgroup too
  CG2=/sys/fs/cgroup/unified CG1=/sys/fs/cgroup/systemd
fi

cgroup_remove() { # NAME: kill what is left, wait until it is empty, then remove the tree bottom-up
  local d
  [ -n "$1" ] || fail "cgroup_remove: empty cgroup name"
  if [ -d "$CG2/$1" ]; then
    [ -f "$CG2/$1/cgroup.kill" ] && echo 1 >"$CG2/$1/cgroup.kill" 2>/dev/null
    retry 100 0.05 grep -qx 'populated 0' "$CG2/$1/cgroup.events" || say "warning: cgroup $1 still has processes"
  fi
  for d in "$CG2/$1" ${CG1:+"$CG1/$1"}; do
    if [ -d "$d" ]; then find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    [ ! -d "$d" ] || say "warning: could not remove cgroup $d"
  done
  return 0
}

# cgroup_cpu_usec NAME: CPU time used by everything in the cgroup (cgroup2 cpu.stat, always present).
cgroup_cpu_usec() { awk '$1 == "usage_usec" {print $2}' "$CG2/$1/cpu.stat"; }

# cgroup_idle_threads NAME UNIT: how many threads of UNIT (a systemd unit inside the container whose
# cgroup is NAME) run under SCHED_IDLE (policy 5 in /proc/TID/sched).
cgroup_idle_threads() {
  find "$CG2/$1" -path "*/$2/cgroup.threads" -exec cat {} + | while read -r tid; do
    awk '$1 == "policy" {print $3}' "/proc/$tid/sched" 2>/dev/null || true
  done | grep -cx 5 || true
}

# cgroup_demand_usec NAME: CPU time the cgroup's threads ran plus waited runnable in a run queue
# (/proc/TID/schedstat), in microseconds. Not proof of what the unit allows: SCHED_IDLE threads show
# ~100% whatever the cap, since time throttled by a CPU quota also counts as waiting.
cgroup_demand_usec() {
  find "$CG2/$1" -name cgroup.threads -exec cat {} + | while read -r tid; do
    cat "/proc/$tid/schedstat" 2>/dev/null || true
  done | awk '{ns += $1 + $2} END {printf "%d\n", ns / 1000}'
}

########## containers
declare -A C_PID=() C_CG=() C_IP=() C_HOSTIP=() C_LOG=()
C_NEXT_SUBNET=$((100 + ($$ % 50) * 3))

# container_boot NAME ROOT [NSPAWN-ARG...]: boots ROOT (volatile overlay: ROOT is never written) on a
# private veth link. NAME <= 12 characters (it names the host's ve-NAME interface). Extra arguments go to
# systemd-nspawn after the defaults, so they win: --volatile=no keeps what the boot writes in ROOT, for a
# second boot of the same "instance".
container_boot() {
  local name=$1 root=$2 cg="scaleapp-$LIB_TAG-$1-$$" subnet pid
  shift 2
  [ ${#name} -le 12 ] || fail "container name $name longer than 12 characters"
  ! ip link show "ve-$name" >/dev/null 2>&1 || fail "interface ve-$name exists already (another test run?)"
  subnet=$C_NEXT_SUBNET
  local addrs
  addrs=$(ip -o -4 addr show) # captured: with pipefail, `ip | grep -q` can fail on SIGPIPE
  while grep -q " 10\.234\.$subnet\." <<<"$addrs"; do subnet=$((subnet + 1)); done
  C_NEXT_SUBNET=$((subnet + 1))
  mkdir "$CG2/$cg"
  [ -z "$CG1" ] || mkdir "$CG1/$cg"
  C_CG[$name]=$cg C_LOG[$name]=$WORK/$name.nspawn.log
  C_IP[$name]=10.234.$subnet.2 C_HOSTIP[$name]=10.234.$subnet.1
  (
    echo "$BASHPID" >"$CG2/$cg/cgroup.procs"
    [ -z "$CG1" ] || echo "$BASHPID" >"$CG1/$cg/cgroup.procs"
    exec systemd-nspawn -q -D "$root" -M "$name" --boot --register=no --keep-unit --volatile=overlay \
      --system-call-filter=bpf --network-veth "$@"
  ) </dev/null >"${C_LOG[$name]}" 2>&1 &
  pid=$!
  C_PID[$name]=$pid
  retry 100 0.05 ip link show "ve-$name" >/dev/null 2>&1 || fail "$name: ve-$name did not appear ($(cat "${C_LOG[$name]}"))"
  ip addr add "${C_HOSTIP[$name]}/30" dev "ve-$name"
  ip link set "ve-$name" up
  retry 100 0.05 container_init_pid "$name" >/dev/null || fail "$name: systemd did not start ($(cat "${C_LOG[$name]}"))"
  nsenter -t "$(container_init_pid "$name")" -n sh -c "ip addr add ${C_IP[$name]}/30 dev host0 && ip link set host0 up"
}

container_init_pid() { pgrep -P "${C_PID[$1]}" -x systemd; }

# container_run NAME ROOT [NSPAWN-ARG...] -- CMD...: runs CMD once in ROOT (no boot, volatile overlay,
# the host's network), in a cgroup of its own that is removed afterwards; returns CMD's exit status.
container_run() {
  local name=$1 root=$2 cg="scaleapp-image-test-$1-$$" rc=0
  shift 2
  local -a opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ "${1:-}" = -- ] || fail "container_run: no -- before the command"
  shift
  mkdir "$CG2/$cg"
  [ -z "$CG1" ] || mkdir "$CG1/$cg"
  RUN_CGS+=("$cg")
  (
    echo "$BASHPID" >"$CG2/$cg/cgroup.procs"
    [ -z "$CG1" ] || echo "$BASHPID" >"$CG1/$cg/cgroup.procs"
    exec systemd-nspawn -q -D "$root" -M "$name" --register=no --keep-unit --volatile=overlay "${opts[@]}" "$@"
  ) </dev/null 2> >(grep -v '^Attempted to remove disk file system under "/run/systemd/nspawn/propagate/' >&2) || rc=$?
  cgroup_remove "$cg"
  nspawn_leftovers "$name"
  return "$rc"
}
declare -a RUN_CGS=()

# cexec NAME CMD...: runs CMD inside the container (all its namespaces, a clean environment).
cexec() {
  local name=$1 pid
  shift
  pid=$(container_init_pid "$name") || fail "$name: not running"
  nsenter -t "$pid" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# container_wait_running NAME: until systemd inside finished booting (bus up, no job left).
container_wait_running() {
  local state
  retry 50 0.1 cexec "$1" systemctl is-system-running >/dev/null 2>&1 ||
    retry 50 0.1 cexec "$1" test -S /run/systemd/private || fail "$1: systemd bus never came up"
  state=$(cexec "$1" systemctl is-system-running --wait 2>/dev/null) || true
  [ "$state" = running ] || {
    cexec "$1" systemctl --failed --no-pager >&2 || true
    fail "$1: system is '$state', want running"
  }
}

# container_stop NAME [GRACE]: orderly halt (SIGTERM to nspawn); after GRACE seconds (default 5)
# whatever is left is killed with the cgroup: the overlay is throw-away, and a running scaleapp would
# drain for 15 s first.
container_stop() {
  local name=$1 pid=${C_PID[$1]:-} grace=${2:-5}
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    retry $((grace * 10)) 0.1 eval "! kill -0 $pid 2>/dev/null" || echo 1 >"$CG2/${C_CG[$name]}/cgroup.kill"
  fi
  wait "$pid" 2>/dev/null || true
  cgroup_remove "${C_CG[$name]}"
  nspawn_leftovers "$name"
  unset "C_PID[$name]"
}

# nspawn_leftovers NAME: where /run is not a tmpfs (this kind of host), nspawn refuses to delete its
# mount-propagation folder for the machine ("Attempted to remove disk file system ..."): once the
# container is gone, remove it here.
nspawn_leftovers() {
  local d=/run/systemd/nspawn/propagate/$1
  if [ -d "$d" ]; then rm -rf --one-file-system "$d"; fi
  return 0
}

cleanup_all() {
  local rc=$? name
  for name in "${!C_PID[@]}"; do container_stop "$name"; done
  for name in "${RUN_CGS[@]}"; do cgroup_remove "$name"; done
  if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
    # Nothing should be mounted there (nspawn mounts in its own namespace), but never delete through one.
    findmnt -rn -o TARGET | grep -F "$WORK" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$WORK"
  fi
  [ "$rc" = 0 ] || say "failed (exit $rc); containers, cgroups and $WORK removed"
  return "$rc"
}
