#!/bin/bash
# Runs inside the VM as PID 1 after init.sh switched into the shared userland (the
# host's, or VM_ROOT): makes the mounts a booted Debian has, brings up lo, runs the
# command vm.sh left in the results share, records its exit code there and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
release=$(uname -r)
mkdir -p /dev/pts
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
ln -sf pts/ptmx /dev/ptmx
# /tmp stays the overlay's (writes land in its tmpfs layer): a checkout under the
# host's /tmp, as CI's clean clone may be, must stay visible.
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
# cgroup v2 alone, as Kubernetes nodes mount it.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
# Modules on demand (veth, sch_ingress, ...) from the unpacked kernel package (vm.sh
# shares its directory), loaded by busybox's modprobe (the host has no kmod).
mkdir -p "/lib/modules/$release" /run/vm/kernel
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144 kernel /run/vm/kernel
mount --bind "/run/vm/kernel/lib/modules/$release" "/lib/modules/$release"
ln -s /bin/busybox /run/vm/modprobe
echo /run/vm/modprobe > /proc/sys/kernel/modprobe
ip link set lo up
echo tapwire-vm > /proc/sys/kernel/hostname
mkdir -p /run/vm/out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /run/vm/out
cd /
bash /run/vm/out/cmd </dev/null >/dev/console 2>&1
echo $? > /run/vm/out/rc
sync
umount /run/vm/out
# Power off; PID 1 must not exit meanwhile (the kernel would panic), and no program
# can be started as the shares go away: wait in bash itself.
echo o > /proc/sysrq-trigger
while :; do :; done
