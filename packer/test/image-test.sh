#!/usr/bin/env bash
# The golden image, proven under a real systemd (Debian 12: systemd 252, as on Amazon Linux 2023) and
# booted the way EC2 boots it: cloud-init hands over the user data Terraform renders.
#   1. USER DATA: terraform/modules/user-data rendered by real Terraform (a throw-away root calling the
#      module with this test's settings); the container path's script run against stand-ins of dnf, aws
#      and docker that record their calls;
#   2. the unit as installed by packer/install.sh passes systemd-analyze verify (no output at all) and
#      security (exposure <= 2.0);
#   3. BOOT TEST: the installed, cleaned root filesystem boots in a container with cloud-init's NoCloud
#      datasource carrying that user data. Checked from the host: the env file was written (values, mode)
#      before the unit's first start (journal order), the service runs with it (drain delay, token),
#      systemd-analyze verify inside and the boot journal have nothing to say about the unit,
#      start-to-READY and boot-to-healthy are within budget, /proc/stat and somaxconn are visible to the
#      service, the watchdog restarts a frozen process and a wedged one (its own loopback dropped by
#      nftables inside the container; goroutine dump in the journal) which then recovers, /cpu fills
#      every core, `systemctl stop` drains and exits 0; a second boot rewrites and duplicates nothing;
#   4. LOCAL BAKE: `packer build -only=null.local` of packer/ into a fresh container over SSH, as ec2-user
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

# Budgets asserted below: generous, for a busy shared 2-core machine (an idle one does start-to-READY in
# ~0.1 s and boots to healthy in a few seconds); the figures printed at the end are the measurement.
BUDGET_READY_MS=2000
# The ASG's health check grace period on the AMI path (terraform/main.tf boot_budget_seconds.ami).
BUDGET_HEALTHY_S=60

########## preflight
[ "$(id -u)" = 0 ] || fail "needs root (systemd-nspawn, cgroups, veth)"
for tool in systemd-nspawn systemd-analyze nsenter zstd tar jq curl ssh ssh-keygen ip ss pgrep packer terraform; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-tools.sh"
done
[ -x "$BIN" ] || fail "no binary at $BIN: run make build"

# The names and numbers under test come from the contract, as they do for the unit and the template.
contract() { jq -er ".$1" "$REPO/contract/contract.json"; }
UNIT=$(contract unit) PORT=$(contract port) HEALTH=$(contract health_path) OK_BODY=$(contract health_ok_body)
DRAIN_S=$(contract drain_delay_seconds) WATCHDOG_S=$(contract watchdog_seconds)
NCPU=$(nproc)
ENV_FILE=$(contract env_file) SHUTDOWN_S=$(contract shutdown_timeout_seconds)
# What this test's user data sets: unlike the AMI's defaults (packer/scaleapp.env), so the checks can
# tell who wrote what the service runs with.
UD_DRAIN_S=3 UD_LOG_LEVEL=debug UD_TOKEN=image-test-$RANDOM$RANDOM
UD_REGISTRY=123456789012.dkr.ecr.eu-west-1.amazonaws.com UD_TAG=v0.0.0-image-test
INSTANCE_ID=i-0image0test0$$
AUTH=(-H "Authorization: Bearer $UD_TOKEN")

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
journal() { cexec "$1" journalctl -b -u "$UNIT" -o cat --no-pager; } # this boot's
# journal_cursor NAME: where the journal ends now; journal_since NAME CURSOR: the unit's lines after it.
journal_cursor() { cexec "$1" journalctl -n 1 -o json --no-pager | jq -r .__CURSOR; }
journal_since() { cexec "$1" journalctl -u "$UNIT" -o cat --no-pager --after-cursor="$2"; }
# wait_restarted NAME OLD_PID OLD_RESTARTS SECONDS: until systemd restarted the unit and it runs again.
wait_restarted() {
  local deadline=$(($(now_ms) + $4 * 1000))
  until unit_show "$1" && [ "${U[NRestarts]}" -gt "$3" ] && [ "${U[SubState]}" = running ] && [ "${U[MainPID]}" != "$2" ]; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

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

########## user data, rendered by Terraform
phase "user data rendered by terraform (modules/user-data)"
# A throw-away root that calls the launch template's own module with this test's settings: no copy of
# the rendering. A relative source: the module finds its templates relative to itself.
mkdir "$WORK/tf"
module_dir=$(realpath --relative-to="$WORK/tf" "$REPO/terraform/modules/user-data")
cat >"$WORK/tf/main.tf" <<TF
locals {
  contract = jsondecode(file("$REPO/contract/contract.json"))
}

module "user_data" {
  source           = "$module_dir"
  env_file         = local.contract.env_file
  unit             = local.contract.unit
  name             = local.contract.name
  port             = local.contract.port
  drain_seconds    = $UD_DRAIN_S
  shutdown_seconds = local.contract.shutdown_timeout_seconds
  log_level        = "$UD_LOG_LEVEL"
  stress_enabled   = true
  stress_token     = "$UD_TOKEN"
  region           = "eu-west-1"
  repository_url   = "$UD_REGISTRY/scaleapp"
  image_tag        = "$UD_TAG"
}

output "ami" {
  value     = module.user_data.ami
  sensitive = true
}

output "container" {
  value     = module.user_data.container
  sensitive = true
}
TF
: >"$WORK/tf/cli.tfrc" # no ~/.terraformrc needed, and none read
if ! (cd "$WORK/tf" && export TF_CLI_CONFIG_FILE=$WORK/tf/cli.tfrc TF_IN_AUTOMATION=1 &&
  terraform init -input=false -no-color && terraform apply -auto-approve -input=false -no-color &&
  terraform output -raw ami >"$WORK/user-data-ami" && terraform output -raw container >"$WORK/user-data-container") >"$WORK/tf.log" 2>&1; then
  cat "$WORK/tf.log" >&2
  fail "terraform could not render terraform/modules/user-data"
fi
head -n 2 "$WORK/user-data-ami" | tr '\n' ' ' | grep -qx '#cloud-boothook #!/bin/bash ' || fail "AMI user data is not a cloud-init boothook: $(head -n 2 "$WORK/user-data-ami")"
# The env file the boothook writes: its heredoc, as rendered.
sed -n "/<<'SCALEAPP_ENV'$/,/^SCALEAPP_ENV$/{//!p}" "$WORK/user-data-ami" >"$WORK/env.rendered"
{ grep -qx "DRAIN_DELAY=${UD_DRAIN_S}s" "$WORK/env.rendered" && grep -qx "STRESS_TOKEN=$UD_TOKEN" "$WORK/env.rendered"; } ||
  fail "rendered env lacks the test's DRAIN_DELAY or STRESS_TOKEN: $(cat "$WORK/env.rendered")"
say "rendered: AMI user data $(wc -c <"$WORK/user-data-ami") bytes ($(wc -l <"$WORK/env.rendered") env lines), container user data $(wc -c <"$WORK/user-data-container") bytes"

phase "container user data vs stand-ins of dnf/aws/docker"
# Each stand-in appends "NAME ARGS | stdin: ..." to /calls/log (stdin only where a password travels);
# aws prints a fake ECR password. systemctl is a stand-in too: nothing boots here.
mkdir -p "$WORK/stubs/bin" "$WORK/calls"
cat >"$WORK/stubs/bin/stub" <<'STUB'
#!/bin/sh
name=$(basename "$0")
input=''
if [ "$name $1" = "docker login" ]; then input=$(cat); fi
printf '%s %s | stdin: %s\n' "$name" "$*" "$input" >>/calls/log
if [ "$name $1 $2" = "aws ecr get-login-password" ]; then echo stub-ecr-password; fi
exit 0
STUB
chmod 0755 "$WORK/stubs/bin/stub"
for c in dnf aws docker systemctl; do ln -s stub "$WORK/stubs/bin/$c"; done
cp "$WORK/user-data-container" "$WORK/stubs/user-data.sh"
container_run img$$u "$WORK/base" --bind-ro="$WORK/stubs:/stubs" --bind="$WORK/calls:/calls" -- \
  /usr/bin/env -i PATH=/stubs/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c \
  "bash /stubs/user-data.sh >/calls/out 2>&1; rc=\$?; stat -c '%a %U' $ENV_FILE >/calls/env-mode; cat $ENV_FILE >/calls/env; exit \$rc" ||
  { cat "$WORK/calls/out" >&2; fail "the container user data failed against the stand-ins"; }
image=$UD_REGISTRY/scaleapp:$UD_TAG
stop_timeout=$((UD_DRAIN_S + SHUTDOWN_S + 5))
for want in \
  "dnf install -y -q docker | stdin: " \
  "systemctl enable --now docker.service | stdin: " \
  "aws ecr get-login-password --region eu-west-1 | stdin: " \
  "docker login --username AWS --password-stdin $UD_REGISTRY | stdin: stub-ecr-password" \
  "docker pull $image | stdin: " \
  "docker rm -f $(contract name) | stdin: " \
  "docker run --detach --name $(contract name) --restart=always --stop-timeout $stop_timeout --env-file $ENV_FILE --publish $PORT:$PORT --log-driver journald $image | stdin: "; do
  grep -qxF -- "$want" "$WORK/calls/log" || { sed 's/^/    | /' "$WORK/calls/log" >&2; fail "no call: $want"; }
done
# The ECR password goes through stdin only: never in any command line (ps would show it).
! grep -F 'stub-ecr-password' "$WORK/calls/log" | grep -vq '| stdin: stub-ecr-password$' || fail "the ECR password appears in a command line"
[ "$(cat "$WORK/calls/env-mode")" = "600 root" ] || fail "container path env file mode/owner: $(cat "$WORK/calls/env-mode"), want 600 root"
cmp -s "$WORK/calls/env" "$WORK/env.rendered" || fail "container path env file differs from the rendered one"
say "$(wc -l <"$WORK/calls/log") calls as expected: login through stdin, --restart=always, --stop-timeout $stop_timeout (drain ${UD_DRAIN_S} s + shutdown ${SHUTDOWN_S} s + 5), journald logs; env file 0600"

########## install + static checks
phase "install.sh into the root (offline) + NoCloud seed"
"$PACKER_DIR/install.sh" --root "$WORK/boot" --bin "$BIN" install
"$PACKER_DIR/install.sh" --root "$WORK/boot" cleanup
[ -L "$WORK/boot/etc/systemd/system/multi-user.target.wants/$UNIT" ] || fail "$UNIT is not enabled"
[ ! -s "$WORK/boot/etc/machine-id" ] || fail "machine-id not emptied by cleanup"
! compgen -G "$WORK/boot/etc/ssh/ssh_host_*" >/dev/null || fail "SSH host keys left by cleanup: $(echo "$WORK"/boot/etc/ssh/ssh_host_*)"
[ ! -e "$WORK/boot/var/lib/systemd/random-seed" ] || fail "random-seed left by cleanup"
cmp -s "$BIN" "$WORK/boot$(contract binary_path)" || fail "binary not installed at $(contract binary_path)"
# cloud-init on, fed by NoCloud's seed folder: under systemd-nspawn the kernel command line and the
# SMBIOS serial (the other ways to say ds=nocloud) are the host's, so the seed folder is the one channel
# a container has of its own. The network is the test's (veth), so cloud-init leaves it alone.
rm -f "$WORK/boot/etc/cloud/cloud-init.disabled"
# (locale: Debian minbase has no en_US.UTF-8 for cloud-init's locale module; AL2023 has.)
cat >"$WORK/boot/etc/cloud/cloud.cfg.d/90-image-test.cfg" <<'CFG'
datasource_list: [ NoCloud ]
network: {config: disabled}
locale: false
CFG
# cloud-init.service ordered as on AL2023. Debian's variant of cloud-init's unit template is also
# Before=sysinit.target, which alone makes every ordinary service wait for the boothook; Amazon's (and
# RHEL's) is not, so there only the unit's own After=cloud-init.service does. Boot the stricter one.
sed -e '/^Before=sysinit\.target$/d' -e '/^Before=shutdown\.target$/d' -e '/^Conflicts=shutdown\.target$/d' \
  -e '/^After=networking\.service$/d' "$WORK/boot/usr/lib/systemd/system/cloud-init.service" \
  >"$WORK/boot/etc/systemd/system/cloud-init.service"
! grep -q '^Before=sysinit.target' "$WORK/boot/etc/systemd/system/cloud-init.service" || fail "could not drop Before=sysinit.target from cloud-init.service"
install -d -m 0755 "$WORK/boot/var/lib/cloud/seed/nocloud"
printf 'instance-id: %s\nlocal-hostname: scaleapp-test\n' "$INSTANCE_ID" >"$WORK/boot/var/lib/cloud/seed/nocloud/meta-data"
install -m 0600 "$WORK/user-data-ami" "$WORK/boot/var/lib/cloud/seed/nocloud/user-data"
[ ! -e "$WORK/boot$ENV_FILE" ] || cmp -s "$WORK/boot$ENV_FILE" "$PACKER_DIR/scaleapp.env" || fail "$ENV_FILE in the image is not the AMI default"

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
phase "boot under cloud-init (NoCloud user data) to healthy"
# --volatile=no: this root is the instance's disk, kept for the second boot below.
t_boot=$(now_ms)
container_boot img$$b "$WORK/boot" --volatile=no
wait_health img$$b "$OK_BODY" "$BUDGET_HEALTHY_S" >/dev/null || {
  journal img$$b >&2 || true
  cexec img$$b cloud-init status --long >&2 || true
  fail "/health did not answer $OK_BODY within the ${BUDGET_HEALTHY_S} s budget of boot-to-healthy"
}
BOOT_TO_HEALTHY_MS=$(($(now_ms) - t_boot))
say "boot (nspawn start) to /health $OK_BODY: $BOOT_TO_HEALTHY_MS ms (budget ${BUDGET_HEALTHY_S} s)"
container_wait_running img$$b

phase "env file written before the unit's first start"
ci=$(cexec img$$b cat /run/cloud-init/result.json) || fail "no /run/cloud-init/result.json: cloud-init did not run"
jq -e '.v1.datasource | test("NoCloud")' <<<"$ci" >/dev/null || fail "cloud-init datasource is not NoCloud: $ci"
jq -e '.v1.errors == []' <<<"$ci" >/dev/null || fail "cloud-init reported errors: $ci"
[ "$(cexec img$$b stat -c '%a %U:%G' "$ENV_FILE")" = "600 root:root" ] || fail "$ENV_FILE: $(cexec img$$b stat -c '%a %U:%G' "$ENV_FILE"), want 600 root:root"
cexec img$$b cat "$ENV_FILE" | cmp -s - "$WORK/env.rendered" || fail "$ENV_FILE is not what Terraform rendered: $(cexec img$$b cat "$ENV_FILE")"
unit_show img$$b
[ "${U[NRestarts]}" = 0 ] || fail "NRestarts=${U[NRestarts]} after boot"
# Journal order: the boothook's own line against the main process's first start (CLOCK_MONOTONIC both).
wrote_us=$(cexec img$$b journalctl -b -t scaleapp-user-data -o json --no-pager | jq -r --arg m "wrote $ENV_FILE" \
  'select(.MESSAGE == $m) | .__MONOTONIC_TIMESTAMP' | head -n 1)
[ -n "$wrote_us" ] || fail "the boot journal has no 'scaleapp-user-data: wrote $ENV_FILE' line: the boothook did not run"
starts=$(journal img$$b | grep -c '^Started ' || true)
[ "$starts" = 1 ] || fail "$UNIT started $starts times this boot, want once (started before the boothook, then restarted by it?)"
ENV_BEFORE_START_MS=$(((U[ExecMainStartTimestampMonotonic] - wrote_us) / 1000))
[ "${U[ExecMainStartTimestampMonotonic]}" -gt "$wrote_us" ] || fail "$UNIT started ${ENV_BEFORE_START_MS} ms relative to the boothook: before the env file was written"
say "cloud-init (NoCloud) wrote $ENV_FILE (0600, as rendered) $ENV_BEFORE_START_MS ms before $UNIT first started"

phase "unit state, READY=1, user data settings, STATUS="
[ "${U[ActiveState]}/${U[SubState]}" = active/running ] || fail "unit is ${U[ActiveState]}/${U[SubState]}"
START_TO_READY_MS=$(((U[ActiveEnterTimestampMonotonic] - U[ExecMainStartTimestampMonotonic]) / 1000))
[ "$START_TO_READY_MS" -ge 0 ] || fail "bad timestamps: ${U[*]}"
[ "$START_TO_READY_MS" -le "$BUDGET_READY_MS" ] || fail "start-to-READY $START_TO_READY_MS ms, over the $BUDGET_READY_MS ms budget"
say "active/running; start-to-READY $START_TO_READY_MS ms (budget $BUDGET_READY_MS ms; goal < 100 ms$([ "$START_TO_READY_MS" -lt 100 ] || echo ': MISSED, is the machine busy?'))"
[ -n "${U[StatusText]}" ] || fail "no STATUS= text from the service"
cexec img$$b systemctl status "$UNIT" --no-pager -n 0 | grep -F "Status: \"${U[StatusText]}\"" >/dev/null ||
  fail "STATUS= text '${U[StatusText]}' not in systemctl status"
say "systemctl status shows Status: \"${U[StatusText]}\""
json_lines=$(journal img$$b | jq -Rc 'fromjson? | objects | select(has("level") and has("message"))' | wc -l)
[ "$json_lines" -gt 0 ] || { journal img$$b >&2; fail "no zerolog JSON line in the journal"; }
serving=$(journal img$$b | jq -Rc 'fromjson? | objects | select(.message == "serving")' | head -n 1)
jq -e '.stress_token == true' <<<"$serving" >/dev/null || fail "the service does not run with the user data's STRESS_TOKEN: $serving"
say "journal: $json_lines zerolog JSON lines; serving with the user data's settings: $serving"
[ "$(http img$$b "/cpu?seconds=1" -X POST -o /dev/null -w '%{http_code}')" = 401 ] || fail "POST /cpu without the user data's token was not refused with 401"

phase "the unit as the image's systemd sees it"
# The host's systemd may know options the image's does not: ask the one that runs it.
out=$(cexec img$$b systemd-analyze verify "/etc/systemd/system/$UNIT" 2>&1) || fail "systemd-analyze verify in the image failed: $out"
[ -z "$out" ] || fail "systemd-analyze verify in the image printed (any output fails): $out"
complaints=$(cexec img$$b journalctl -b -o cat --no-pager _PID=1 | grep -E "$UNIT:[0-9]+: |$UNIT.*(Unknown|ignoring)" || true)
[ -z "$complaints" ] || fail "the image's systemd complained about $UNIT while booting: $complaints"
say "verify inside the image ($(cexec img$$b systemctl --version | head -n 1)): clean; no Unknown/ignoring line for $UNIT in the boot journal"

phase "/proc/stat and somaxconn visible to the service"
metrics=$(http img$$b /metrics)
grep -q '^process_start_time_seconds ' <<<"$metrics" || fail "/metrics has no process_start_time_seconds: the service cannot read /proc/stat"
somaxconn=$(cexec img$$b cat /proc/sys/net/core/somaxconn)
# For a listening socket ss shows the accept backlog as Send-Q; Go sizes it from somaxconn when it can read it.
backlog=$(nsenter -t "$(container_init_pid img$$b)" -n ss -Hltn "sport = :$PORT" | awk 'NR == 1 {print $3}')
[ "$backlog" = "$somaxconn" ] || fail "listen backlog $backlog, want somaxconn $somaxconn (128: the service cannot read /proc/sys/net/core/somaxconn)"
say "process_start_time_seconds in /metrics; listen backlog $backlog = somaxconn"

phase "watchdog: a frozen service is restarted"
unit_show img$$b
old_pid=${U[MainPID]} old_restarts=${U[NRestarts]}
t0=$(now_ms)
cexec img$$b sh -c "kill -STOP $old_pid"
# Killed WatchdogSec after its last ping; SIGABRT cannot reach a stopped process, so SIGKILL follows
# TimeoutAbortSec later; then RestartSec.
wait_restarted img$$b "$old_pid" "$old_restarts" $((WATCHDOG_S + 20)) || { journal img$$b | tail -n 20 >&2; fail "no restart within $((WATCHDOG_S + 20)) s of SIGSTOP"; }
wait_health img$$b "$OK_BODY" 10 >/dev/null || fail "/health not $OK_BODY after the watchdog restart"
FROZEN_MS=$(($(now_ms) - t0))
[[ $(journal img$$b) == *'Watchdog timeout'* ]] || fail "journal does not show the watchdog timeout"
say "SIGSTOP -> 'Watchdog timeout' -> restarted (NRestarts=${U[NRestarts]}) -> /health $OK_BODY in $FROZEN_MS ms (budget $((WATCHDOG_S + 20)) s)"

phase "watchdog: a wedged service restarted, recovers"
# The process keeps running and serving on host0; only its self-check over 127.0.0.1 hangs, so only
# the gated watchdog can notice. The rule lives in the container's own network namespace.
unit_show img$$b
old_pid=${U[MainPID]} old_restarts=${U[NRestarts]}
cursor=$(journal_cursor img$$b)
t0=$(now_ms)
cexec img$$b nft add table inet imgwedge
cexec img$$b nft add chain inet imgwedge input '{ type filter hook input priority 0; }'
cexec img$$b nft add rule inet imgwedge input iif lo tcp dport "$PORT" drop
sleep 1
state=$(cexec img$$b sed -n 's/^State:[[:space:]]*//p' "/proc/$old_pid/status")
[[ $state != T* ]] || fail "the wedged process is stopped ($state): that is the frozen case"
say "wedged: process $old_pid is '$state', /health from outside answers '$(http img$$b "$HEALTH")'"
wait_restarted img$$b "$old_pid" "$old_restarts" $((WATCHDOG_S + 20)) || {
  journal_since img$$b "$cursor" | tail -n 20 >&2
  fail "no watchdog restart within $((WATCHDOG_S + 20)) s of the wedge"
}
WEDGED_MS=$(($(now_ms) - t0))
cexec img$$b nft delete table inet imgwedge
t1=$(now_ms)
since=$(journal_since img$$b "$cursor")
# The dump: every goroutine's stack, the main one (main.main) among them.
for want in 'self-check failed: watchdog ping withheld' 'Watchdog timeout' 'SIGABRT: abort' 'main.main()'; do
  [[ $since == *"$want"* ]] || { grep -v '^{' <<<"$since" | head -n 40 >&2; fail "the journal of the wedge lacks '$want'"; }
done
say "wedge -> self-check fails -> 'Watchdog timeout' -> SIGABRT dump of $(grep -cE '^goroutine [0-9]+ ' <<<"$since") goroutines -> restarted in $WEDGED_MS ms (budget $((WATCHDOG_S + 20)) s)"
# Recovered: the new process's self-check passes again, so it outlives a whole watchdog period.
new_pid=${U[MainPID]} new_restarts=${U[NRestarts]}
wait_health img$$b "$OK_BODY" 10 >/dev/null || fail "/health not $OK_BODY after the wedge was removed"
sleep $((WATCHDOG_S + 2))
unit_show img$$b
[ "${U[MainPID]}/${U[NRestarts]}/${U[SubState]}" = "$new_pid/$new_restarts/running" ] ||
  fail "after the wedge was removed the unit was restarted again: MainPID ${U[MainPID]} (was $new_pid), NRestarts ${U[NRestarts]}, ${U[SubState]}"
say "rule removed: same process $new_pid still running and pinging $((($(now_ms) - t1) / 1000)) s later (WatchdogSec ${WATCHDOG_S} s)"

phase "/cpu fills every core"
job=$(http img$$b "/cpu?seconds=30&load=100&workers=$NCPU" -X POST "${AUTH[@]}" -w ' %{http_code}')
[ "${job##* }" = 202 ] || fail "POST /cpu answered: $job"
sleep 1.5 # let the workers start
cg=${C_CG[img$$b]}
read -ra s0 < <(grep '^cpu ' /proc/stat)
u0=$(cgroup_cpu_usec "$cg") d0=$(cgroup_demand_usec "$cg") t0=$(date +%s%N)
sleep 5
u1=$(cgroup_cpu_usec "$cg") d1=$(cgroup_demand_usec "$cg") t1=$(date +%s%N)
idle_threads=$(cgroup_idle_threads "$cg" "$UNIT")
read -ra s1 < <(grep '^cpu ' /proc/stat)
http img$$b /cpu -X DELETE "${AUTH[@]}" >/dev/null
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
caps=$(cexec img$$b systemctl show -p CPUQuotaPerSecUSec,AllowedCPUs,EffectiveCPUs "$UNIT" | tr '\n' ' ')
if [[ $caps == *"EffectiveCPUs= "* ]]; then
  unit_show img$$b
  affinity=$(cexec img$$b grep '^Cpus_allowed_list:' "/proc/${U[MainPID]}/status") || fail "no affinity for PID ${U[MainPID]}"
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

phase "systemctl stop drains (user data delay), exit 0"
t0=$(now_ms)
cexec img$$b systemctl stop "$UNIT" &
stop_pid=$!
draining=$(wait_health img$$b DRAINING 5) || fail "/health did not turn DRAINING on stop"
wait "$stop_pid" || fail "systemctl stop failed"
STOP_MS=$(($(now_ms) - t0))
unit_show img$$b
[ "${U[Result]}/${U[ExecMainStatus]}/${U[ActiveState]}" = success/0/inactive ] ||
  fail "after stop: Result=${U[Result]} ExecMainStatus=${U[ExecMainStatus]} ActiveState=${U[ActiveState]}"
[ "$STOP_MS" -ge $((UD_DRAIN_S * 1000 - 500)) ] || fail "stopped in $STOP_MS ms: shorter than the user data's ${UD_DRAIN_S} s drain"
[ "$STOP_MS" -lt $((DRAIN_S * 1000)) ] || fail "stopped in $STOP_MS ms: the AMI default drain (${DRAIN_S} s), not the user data's ${UD_DRAIN_S} s"
say "/health DRAINING after $draining ms; stopped in $STOP_MS ms (user data drain ${UD_DRAIN_S} s, AMI default ${DRAIN_S} s); Result=success, exit 0"
env_before=$(cexec img$$b stat -c '%i %y %s' "$ENV_FILE")
container_stop img$$b

phase "second boot: nothing rewritten or duplicated"
t_boot=$(now_ms)
container_boot img$$r "$WORK/boot" --volatile=no
wait_health img$$r "$OK_BODY" "$BUDGET_HEALTHY_S" >/dev/null || { journal img$$r >&2 || true; fail "second boot: /health not $OK_BODY within ${BUDGET_HEALTHY_S} s"; }
REBOOT_TO_HEALTHY_MS=$(($(now_ms) - t_boot))
container_wait_running img$$r
[ "$(cexec img$$r stat -c '%i %y %s' "$ENV_FILE")" = "$env_before" ] || fail "$ENV_FILE was rewritten on the second boot: $env_before -> $(cexec img$$r stat -c '%i %y %s' "$ENV_FILE")"
cexec img$$r cat "$ENV_FILE" | cmp -s - "$WORK/env.rendered" || fail "$ENV_FILE changed on the second boot"
[ "$(cexec img$$r ls -A "$(dirname "$ENV_FILE")")" = "$(basename "$ENV_FILE")" ] || fail "leftovers beside $ENV_FILE: $(cexec img$$r ls -A "$(dirname "$ENV_FILE")")"
said=$(cexec img$$r journalctl -b -t scaleapp-user-data -o cat --no-pager)
[ "$said" = "$ENV_FILE unchanged" ] || fail "the boothook said '$said' on the second boot, want only '$ENV_FILE unchanged'"
[ "$(cexec img$$r ls /var/lib/cloud/instances)" = "$INSTANCE_ID" ] || fail "cloud-init instances: $(cexec img$$r ls /var/lib/cloud/instances | tr '\n' ' '), want only $INSTANCE_ID"
dups=$(cexec img$$r sh -c 'cut -d: -f1 /etc/passwd | sort | uniq -d')
[ -z "$dups" ] || fail "users created twice: $dups"
unit_show img$$r
starts=$(journal img$$r | grep -c '^Started ' || true)
[ "${U[NRestarts]}/$starts/${U[SubState]}" = 0/1/running ] || fail "second boot: NRestarts=${U[NRestarts]}, started $starts times, ${U[SubState]}"
say "second boot healthy in $REBOOT_TO_HEALTHY_MS ms: $ENV_FILE untouched (same inode and mtime), boothook said unchanged, one cloud-init instance, $UNIT started once"
container_stop img$$r 1

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
bake img$$k "$WORK/bake-ok.log" || fail "the local bake failed (output above)"
BAKE_MS=$(($(now_ms) - t0))
grep -q 'image cleaned for capture' "$WORK/bake-ok.log" || fail "the cleanup step did not run"
jq -e '.builds[-1].builder_type == "null"' "$WORK/manifest.json" >/dev/null || fail "manifest has no null build"
[ "$(cexec img$$k systemctl is-active "$UNIT")" = active ] || fail "unit not active after the bake"
[ -z "$(cexec img$$k cat /etc/machine-id)" ] || fail "machine-id not emptied by the bake's cleanup"
[ -z "$(cexec img$$k find /etc/ssh /var/lib/systemd -name 'ssh_host_*' -o -name random-seed)" ] ||
  fail "the bake's cleanup left SSH host keys or the random seed"
grep -q 'through sudo -n' "$WORK/bake-ok.log" || fail "the health gate did not take its sudo -n path (ec2-user login)"
say "bake passed in $BAKE_MS ms (boot + SSH as ec2-user + provisioners via sudo -n + health gate + cleanup)"
container_stop img$$k 1 # the bake left scaleapp running: no need to wait for its drain

phase "packer build with a broken env (health gate fails)"
sed 's/^PORT=.*/PORT=99999/' "$PACKER_DIR/scaleapp.env" >"$WORK/broken.env"
grep -q '^PORT=99999$' "$WORK/broken.env" || fail "could not make the broken env file"
if bake img$$x "$WORK/bake-broken.log" -var "env_file=$WORK/broken.env"; then
  fail "the bake with PORT=99999 passed: the health gate let a broken service through"
fi
grep -q "enabled $UNIT" "$WORK/bake-broken.log" || fail "the broken bake failed before install.sh ran"
! grep -q 'image cleaned for capture' "$WORK/bake-broken.log" || fail "the cleanup ran after a failed gate"
grep -E "scaleapp\[[0-9]+\]: .*PORT" "$WORK/bake-broken.log" >/dev/null ||
  fail "the failed gate's output holds no journal line of $UNIT naming PORT"
say "the gate failed the build as it should, with the journal: $(grep -E "scaleapp\[[0-9]+\]: .*PORT" "$WORK/bake-broken.log" | head -n1 | sed 's/^ *| *//')"
container_stop img$$x

########## figures
print_timings
say "figures: exposure $EXPOSURE | start-to-READY $START_TO_READY_MS ms (budget $BUDGET_READY_MS) | boot-to-healthy under cloud-init $BOOT_TO_HEALTHY_MS ms (budget $((BUDGET_HEALTHY_S * 1000))), second boot $REBOOT_TO_HEALTHY_MS ms | env written $ENV_BEFORE_START_MS ms before start | watchdog recovery: frozen $FROZEN_MS ms, wedged $WEDGED_MS ms (budget $(((WATCHDOG_S + 20) * 1000)) each) | stop (drain ${UD_DRAIN_S} s) $STOP_MS ms | /cpu $((CPU_PCT / 10)).$((CPU_PCT % 10))% of $NCPU cores | local bake $BAKE_MS ms"
say "image test: all green"
