#!/usr/bin/env bash
# Builds (once) the Debian 12 root filesystem the image test boots, and caches it as a zstd tarball outside
# the repo. Debian 12 ships systemd 252, the major version Amazon Linux 2023 runs, so the unit's hardening
# and Type=notify behaviour seen here is what the AMI will do. openssh-server and sudo are baked in for the
# local Packer bake (null source over SSH), which logs in as ec2-user with passwordless sudo, as on
# AL2023; host keys are removed so every boot gets a fresh, pinned one, and (like AL2023's sshd-keygen)
# ssh.service makes a missing ed25519 key at start, since install.sh cleanup deletes them.
# cloud-init (Debian's 22.4; AL2023 ships 22.2) is installed but disabled (/etc/cloud/cloud-init.disabled):
# containers that are not handed user data (the bakes, the fleet lab) boot exactly as without it; the
# boot test removes the marker and seeds NoCloud. nftables lets the test wedge the service's loopback path.
#
#   packer/test/rootfs.sh            print the tarball's path, building it first when it is missing
#   packer/test/rootfs.sh --rebuild  build it again
set -euo pipefail

# Bump when the package list or the preparation changes: a new name means a rebuild on every machine.
ROOTFS_VERSION=3
CACHE=${SCALEAPP_CACHE:-$HOME/.cache/scaleapp}
TARBALL=$CACHE/debian12-systemd-sshd-v$ROOTFS_VERSION.tar.zst
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# python3-cffi-backend: debootstrap does not resolve the virtual package python3-cryptography needs.
PACKAGES=systemd,systemd-sysv,dbus,curl,ca-certificates,openssh-server,sudo,cloud-init,python3-cffi-backend,nftables

say() { printf '[rootfs %s] %s\n' "$(date +%T)" "$*" >&2; }

if [ "${1:-}" != --rebuild ] && [ -s "$TARBALL" ]; then
  echo "$TARBALL"
  exit 0
fi
for tool in debootstrap zstd tar; do
  command -v "$tool" >/dev/null || { echo "rootfs: $tool is missing (scripts/install-tools.sh apt)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "rootfs: debootstrap needs root" >&2; exit 1; }

mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/rootfs-build.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT

t0=$SECONDS
say "debootstrap bookworm (minbase + $PACKAGES) from $MIRROR; about 1 min, up to 3 with a slow mirror; once per machine"
if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  echo "rootfs: debootstrap failed (full log above, last 30 lines)" >&2
  exit 1
fi
say "debootstrap done in $((SECONDS - t0)) s"

root=$work/root
# Each boot must make its own machine-id, as an AMI's instances do.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# Host keys are made per boot by the test and pinned in its known_hosts.
rm -f "$root"/etc/ssh/ssh_host_*
install -d "$root/etc/systemd/system/ssh.service.d"
# ed25519 only (the test's sshd uses just that): an RSA key would cost every container boot ~0.5 s.
cat >"$root/etc/systemd/system/ssh.service.d/10-keygen.conf" <<'CONF'
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'test -s /etc/ssh/ssh_host_ed25519_key || exec ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key'
ExecStartPre=/usr/sbin/sshd -t
CONF
# A hostname of its own that resolves (debootstrap copies the host's name, and writes no /etc/hosts):
# else every sudo warns "unable to resolve host".
echo scaleapp-test >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tscaleapp-test\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# The AWS login: ec2-user (locked password, key only) with passwordless sudo, as cloud-init sets it up.
chroot "$root" useradd --create-home --user-group --shell /bin/bash ec2-user
echo 'ec2-user ALL=(ALL) NOPASSWD:ALL' >"$root/etc/sudoers.d/90-ec2-user"
chmod 0440 "$root/etc/sudoers.d/90-ec2-user"
chroot "$root" visudo -cq || { echo "rootfs: sudoers check failed" >&2; exit 1; }
# cloud-init stays off unless a test turns it on (it would otherwise look for a datasource on every boot).
touch "$root/etc/cloud/cloud-init.disabled"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

t1=$SECONDS
tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "$root" -cf - . | zstd -q -T0 -o "$work/rootfs.tar.zst"
mv "$work/rootfs.tar.zst" "$TARBALL"
say "cached $TARBALL ($(du -h "$TARBALL" | cut -f1), packed in $((SECONDS - t1)) s, total $((SECONDS - t0)) s)"
echo "$TARBALL"
