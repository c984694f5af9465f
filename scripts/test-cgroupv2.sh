#!/usr/bin/env bash
# make test-cgroupv2: boots the host's Debian kernel under QEMU (TCG; KVM hangs
# here) on the unified cgroup v2 hierarchy, with the host root shared read-only
# and the project shared writable, and runs the runtime's integration tests.
# Usage: scripts/test-cgroupv2.sh [pytest args]   (a tests/... path replaces tests/runtime)
set -euo pipefail
cd "$(dirname "$0")/.."
project=$(pwd -P)

# Only the generic flavour (…[0-9]-amd64): cloud and rt kernels lack drivers the VM needs.
kernel=$(ls -v /boot/vmlinuz-*[0-9]-amd64 2>/dev/null | tail -n 1)
kver=${kernel#/boot/vmlinuz-}
if [ -z "$kernel" ] || [ ! -d "/lib/modules/$kver" ]; then
  echo "error: no Debian kernel with modules in /boot and /lib/modules (package linux-image-amd64)" >&2
  exit 1
fi

mkdir -p .vm
key=$(cat tests/vm/init tests/vm/build-initramfs.sh /bin/busybox "/lib/modules/$kver/modules.dep" | sha256sum | cut -c1-12)
initrd=.vm/initramfs-$kver-$key.img
if [ ! -f "$initrd" ]; then
  rm -f .vm/initramfs-*.img
  tests/vm/build-initramfs.sh "$kver" "$initrd"
fi

run=$(mktemp -d "$project/.vm/run.XXXXXX")
trap 'rm -rf "$run"' EXIT
paths=()
for a in "$@"; do [[ $a == tests/* ]] && paths+=("$a"); done
[ ${#paths[@]} -gt 0 ] || set -- tests/runtime "$@"
[ $# -eq 0 ] && : > "$run/args" || printf '%s\0' "$@" > "$run/args"
truncate -s 8G "$run/scratch.img"
mkfs.ext4 -q -F "$run/scratch.img"
# The VM binds the runtime's default state root (on its scratch disk) here: it needs a mount point on the read-only host root.
mkdir -p /var/lib/terrarium

# loglevel=3: the OOM kills the tests provoke would break up pytest's progress lines.
echo "test-cgroupv2: booting $kernel (TCG, 2 vCPUs, 3 GiB)"
start=$SECONDS
set +e
# --foreground: a Ctrl-C at the terminal reaches qemu too.
timeout --foreground -k 10 40m qemu-system-x86_64 \
  -accel tcg -cpu max -smp 2 -m 3G -machine pc \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off cgroup_no_v1=all random.trust_cpu=on terrarium.project=$project terrarium.run=$run" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
  -virtfs "local,path=$project,mount_tag=project,security_model=passthrough,multidevs=remap" \
  -drive "file=$run/scratch.img,if=virtio,format=raw,cache=unsafe" \
  -device virtio-rng-pci -nic none -no-reboot -nographic </dev/null
qemu_rc=$?
set -e
echo "test-cgroupv2: VM ran $((SECONDS - start)) s"
if [ "$qemu_rc" = 124 ]; then
  echo "error: the VM did not finish within 40 minutes" >&2
  exit 124
fi
if [ ! -s "$run/status" ]; then
  echo "error: the VM stopped without a test status (qemu exit $qemu_rc)" >&2
  exit 1
fi
exit "$(cat "$run/status")"
