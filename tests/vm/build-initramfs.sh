#!/usr/bin/env bash
# Builds the test VM's initramfs for kernel KVER into OUT: static busybox,
# the modules that reach the host root over virtio 9p and the scratch disk,
# and tests/vm/init.
# Everything else (overlay, veth...) is loaded later from the host's /lib/modules.
set -euo pipefail
kver=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
modules=(virtio_pci virtio_rng 9pnet_virtio 9p virtio_blk ext4)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,newroot,modules}
cp /bin/busybox "$work/bin/busybox"
cp "$here/init" "$work/init"
: > "$work/modules.order"
for ko in $(for m in "${modules[@]}"; do modprobe -S "$kver" --show-depends "$m"; done | awk '$1 == "insmod" {print $2}'); do
  name=$(basename "$ko")
  case "$name" in
    *.ko.xz) name=${name%.xz}; xz -dc "$ko" > "$work/modules/$name" ;;
    *.ko.zst) name=${name%.zst}; zstd -qdc "$ko" > "$work/modules/$name" ;;
    *.ko) cp "$ko" "$work/modules/$name" ;;
  esac
  # --show-depends repeats shared dependencies once per requested module.
  grep -qxF "$name" "$work/modules.order" || echo "$name" >> "$work/modules.order"
done
(cd "$work" && find . -mindepth 1 | busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
