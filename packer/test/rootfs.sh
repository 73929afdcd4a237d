#!/usr/bin/env bash
# Builds (once) the Debian 12 root filesystem the image test boots, and caches it as a zstd tarball outside
# the repo. Debian 12 ships systemd 252, the major version Amazon Linux 2023 runs, so the unit's hardening
# and Type=notify behaviour seen here is what the AMI will do. openssh-server is baked in for the local
# Packer bake (null source over SSH); its host keys are removed so every boot gets a fresh, pinned one.
#
#   packer/test/rootfs.sh            print the tarball's path, building it first when it is missing
#   packer/test/rootfs.sh --rebuild  build it again
set -euo pipefail

# Bump when the package list or the preparation changes: a new name means a rebuild on every machine.
ROOTFS_VERSION=1
CACHE=${SCALEAPP_CACHE:-$HOME/.cache/scaleapp}
TARBALL=$CACHE/debian12-systemd-sshd-v$ROOTFS_VERSION.tar.zst
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=systemd,systemd-sysv,dbus,curl,ca-certificates,openssh-server

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
say "debootstrap bookworm (minbase + $PACKAGES) from $MIRROR; takes 1.5 to 3 min, once per machine"
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
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

t1=$SECONDS
tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "$root" -cf - . | zstd -q -T0 -o "$work/rootfs.tar.zst"
mv "$work/rootfs.tar.zst" "$TARBALL"
say "cached $TARBALL ($(du -h "$TARBALL" | cut -f1), packed in $((SECONDS - t1)) s, total $((SECONDS - t0)) s)"
echo "$TARBALL"
