#!/bin/busybox sh
# shellcheck shell=dash
# The initramfs's /init (scripts/kernels/vm.sh packs it with a static busybox and the
# modules it loads): mounts the shared root (the host's /, or VM_ROOT) read-only over
# virtio-9p under an overlay with a tmpfs upper layer, and switches into it to run
# guest.sh with that userland.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do modprobe "$m" || echo "init: modprobe $m failed"; done < /etc/modules
stage2=$(sed -n 's/.*tapwire\.stage2=\([^ ]*\).*/\1/p' /proc/cmdline)
mkdir -p /host /rw /root
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose hostroot /host
mount -t tmpfs -o size=75% tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /root
for d in proc sys dev; do mount --move /$d /root/$d; done
# shellcheck disable=SC2093 # what follows runs only if switch_root could not
exec switch_root /root /bin/bash "$stage2"
echo "init: switch_root failed"
poweroff -f
