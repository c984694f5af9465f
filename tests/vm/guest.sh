#!/bin/bash
# Stage 2 of the cgroup v2 test VM, PID 1 on the read-only host root: give it
# the mounts a unified-cgroup host has, run pytest in the project, leave the
# exit status in the run directory, power off.
project=$1
cd "$project" || exit 1

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
run=
for arg in $(</proc/cmdline); do
  case "$arg" in terrarium.run=*) run=${arg#terrarium.run=} ;; esac
done
mount -t devtmpfs -o nosuid devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o nosuid,nodev shm /dev/shm
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup
# What systemd does on a unified host: the root cgroup hands its controllers
# down, so the runtime only has to enable them below its own parent.
echo "+cpuset +cpu +io +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
# Loaded from the host's /lib/modules (read over 9p): the initramfs carries
# only what reaching the host root takes. loop: containers' disks (runtime.isolation.layerdisk).
modprobe -a overlay veth loop
hostname terrarium-vm
ip link set lo up

export HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb
mapfile -d '' args < "$run/args"
read -r up _ < /proc/uptime
echo "vm: ready after ${up}s (guest clock), running pytest ${args[*]}"
.venv/bin/python -m pytest -p no:django -m "not v1only" -q "${args[@]}"
rc=$?
read -r up _ < /proc/uptime
echo "vm: pytest exited $rc at ${up}s (guest clock)"
echo "$rc" > "$run/status"
sync
echo o > /proc/sysrq-trigger
sleep 60
