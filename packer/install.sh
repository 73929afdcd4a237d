#!/usr/bin/env bash
# Installs scaleapp into an image, and later cleans the image for capture. The ONE install path: Packer's
# shell provisioners run it on the build instance (AWS) or the local container (null source), and the
# image test runs it offline into the root filesystem it boots, so the two cannot drift.
#
#   install.sh [--root DIR] [--src DIR] [--bin FILE] [--env FILE] install
#       binary -> /usr/local/bin/scaleapp, unit -> /etc/systemd/system/scaleapp.service,
#       default env -> /etc/scaleapp/env, then `systemctl enable`. It does not start the unit: the bake's
#       health gate (re)starts it and checks it, so a broken install fails the build with the journal.
#   install.sh [--root DIR] cleanup
#       the last step before capture: empty machine-id, drop SSH host keys and the random seed, clear the
#       journal, logs, cloud-init state, package caches and shell history (Amazon Linux 2023 layout;
#       harmless where a piece is absent).
#
# --root DIR works on an unbooted root filesystem (systemctl --root); without it, on the running system.
# --src DIR holds scaleapp.service and scaleapp.env (default: this script's folder); --bin (default
# SRC/scaleapp) and --env (default SRC/scaleapp.env) override single files.
set -euo pipefail

usage() { sed -n '6,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

root='' src=$(cd "$(dirname "$0")" && pwd) bin='' env='' phase=''
args=("$@")
while [ $# -gt 0 ]; do
  case $1 in
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    --src) src=${2:?--src needs a directory}; shift 2 ;;
    --bin) bin=${2:?--bin needs a file}; shift 2 ;;
    --env) env=${2:?--env needs a file}; shift 2 ;;
    install | cleanup) [ -z "$phase" ] || usage; phase=$1; shift ;;
    -h | --help) usage ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[ -n "$phase" ] || usage

# Packer connects as ec2-user on AWS: raise to root once, here, rather than in every provisioner.
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "must run as root (no sudo here)"
  exec sudo -n -- bash "$0" "${args[@]}"
fi

UNIT=scaleapp.service
if [ -n "$root" ]; then
  [ -d "$root/etc" ] || die "--root $root is not a root filesystem (no etc/)"
  root=$(cd "$root" && pwd)
fi
# systemd is managing this system (not a chroot, not an offline root): reload and use the live journal.
live() { [ -z "$root" ] && [ -d /run/systemd/system ]; }

install_phase() {
  bin=${bin:-$src/scaleapp} env=${env:-$src/scaleapp.env}
  local f
  for f in "$bin" "$src/$UNIT" "$env"; do [ -f "$f" ] || die "missing $f"; done
  [ -x "$bin" ] || die "$bin is not executable"

  install -D -m 0755 "$bin" "$root/usr/local/bin/scaleapp"
  install -D -m 0644 "$src/$UNIT" "$root/etc/systemd/system/$UNIT"
  # 0600: the env file may hold STRESS_TOKEN; systemd (root) reads it before dropping to the dynamic user.
  install -D -m 0600 "$env" "$root/etc/scaleapp/env"
  say "installed /usr/local/bin/scaleapp, /etc/systemd/system/$UNIT, /etc/scaleapp/env${root:+ under $root}"

  if [ -n "$root" ]; then
    systemctl --root="$root" enable "$UNIT"
  else
    if live; then systemctl daemon-reload; fi
    systemctl enable "$UNIT"
  fi
  say "enabled $UNIT (the health gate starts it)"
}

cleanup_phase() {
  # An empty (not missing) machine-id: systemd makes a new one on each instance's first boot, so
  # instances get distinct journal and DHCP identities.
  : >"$root/etc/machine-id"
  if [ -f "$root/var/lib/dbus/machine-id" ] && [ ! -L "$root/var/lib/dbus/machine-id" ]; then
    rm -f "$root/var/lib/dbus/machine-id"
  fi
  # Instances of a shared AMI must not share host keys or the entropy seed: AL2023 makes new host keys
  # at boot (sshd-keygen@, cloud-init). Open SSH sessions (Packer's own) are not affected.
  rm -f "$root"/etc/ssh/ssh_host_*_key "$root"/etc/ssh/ssh_host_*_key.pub "$root/var/lib/systemd/random-seed"

  if live; then
    journalctl --flush --rotate >/dev/null 2>&1 || true
    journalctl --vacuum-time=1s >/dev/null 2>&1 || true
  fi
  rm -rf "$root"/var/log/journal/*
  # Keep log files (and their owners and modes) but empty them; drop rotated copies.
  find "$root/var/log" -type f \( -name '*.gz' -o -name '*.[0-9]' -o -name '*.old' \) -delete 2>/dev/null || true
  find "$root/var/log" -type f -exec truncate -s 0 {} + 2>/dev/null || true

  # cloud-init reruns its per-instance modules (hostname, SSH host keys, user keys) on first boot.
  if [ -z "$root" ] && command -v cloud-init >/dev/null; then
    cloud-init clean --logs
  else
    rm -rf "$root"/var/lib/cloud/instances "$root"/var/lib/cloud/instance "$root"/var/lib/cloud/data \
      "$root"/var/lib/cloud/sem
  fi

  if [ -z "$root" ] && command -v dnf >/dev/null; then dnf -q clean all; fi
  rm -rf "$root"/var/cache/dnf/*
  rm -f "$root"/root/.bash_history "$root"/home/*/.bash_history
  # The upload folder this script came from, when it is a staging copy in /tmp.
  if [ -z "$root" ]; then case $src in /tmp/?*) rm -rf "$src" ;; esac; fi
  say "image cleaned for capture${root:+ ($root)}"
}

case $phase in
  install) install_phase ;;
  cleanup) cleanup_phase ;;
esac
