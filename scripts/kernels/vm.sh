#!/usr/bin/env bash
# Boots a kernel from fetch.sh in qemu over this machine's own userland and runs one
# command in it as root, in the current directory, with CI and TAPWIRE_* passed on.
#   vm.sh KERNEL_DIR -- CMD [ARGS...]    exits with CMD's exit code (125: the VM failed)
# The host's / is shared read-only (virtio-9p) under a tmpfs overlay, so the guest sees
# this checkout, its build and node_modules, and writes nothing back. VM_ROOT=DIR boots
# over DIR instead (another machine's userland: an arm64 kernel needs arm64-root.sh's),
# and the command runs in / there. TCG only: these machines have no usable KVM.
# VM_MEMORY (default 3G) and VM_CPUS (2) size the guest.
set -euo pipefail
kdir=$(cd "${1:?usage: vm.sh KERNEL_DIR -- CMD...}" && pwd)
shift
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "vm.sh: no command" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
release=$(basename "$kdir")
guest_root=${VM_ROOT:-/}
case $release in
  *-arm64) arch=arm64 ;;
  *) arch=amd64 ;;
esac
[ "$arch" = amd64 ] || [ -n "${VM_ROOT:-}" ] || { echo "vm.sh: an $arch kernel needs VM_ROOT (an $arch userland)" >&2; exit 2; }
# The guest's second stage must be inside the root it switches to.
stage2=$here/guest.sh
if [ -n "${VM_ROOT:-}" ]; then
  mkdir -p "$guest_root/.tapwire-vm"
  cp "$here/guest.sh" "$guest_root/.tapwire-vm/guest.sh"
  stage2=/.tapwire-vm/guest.sh
fi

initramfs="$kdir/initramfs.cpio.gz"
if [ ! -f "$initramfs" ] || [ "$here/init.sh" -nt "$initramfs" ] || [ "$0" -nt "$initramfs" ]; then
  stage=$(mktemp -d)
  mkdir -p "$stage/bin" "$stage/etc" "$stage/lib/modules/$release"
  cp "$guest_root/bin/busybox" "$stage/bin/busybox"
  cp "$here/init.sh" "$stage/init"
  chmod +x "$stage/init"
  mods="$kdir/lib/modules/$release"
  cp "$mods/modules.dep" "$mods/modules.alias" "$stage/lib/modules/$release/" 2>/dev/null || true
  wanted=
  for m in virtio_pci 9pnet_virtio 9p overlay; do
    # Built into some kernels (6.12 has virtio_pci): nothing to load.
    grep -Eq "(^|/)${m}\.ko\$" "$mods/modules.builtin" 2>/dev/null || wanted+=" $m"
  done
  echo "${wanted# }" | tr ' ' '\n' > "$stage/etc/modules"
  # Each wanted module and what modules.dep says it needs.
  for m in $wanted; do
    grep -E "(^|/)${m}\.ko:" "$mods/modules.dep" || { echo "vm.sh: $release has no module $m" >&2; exit 1; }
  done | tr -d ':' | tr ' ' '\n' | sort -u | while read -r f; do
    [ -n "$f" ] || continue
    mkdir -p "$stage/lib/modules/$release/$(dirname "$f")"
    cp "$mods/$f" "$stage/lib/modules/$release/$f"
  done
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$initramfs"
  rm -rf "$stage"
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
{
  echo "cd $(printf %q "$([ -n "${VM_ROOT:-}" ] && echo / || echo "$PWD")")"
  for v in CI HOME $(compgen -e | grep '^TAPWIRE_' || true); do
    [ -n "${!v:-}" ] && echo "export $v=$(printf %q "${!v}")"
  done
  printf '%q ' "$@"
  echo
} > "$out/cmd"

status=125
if [ "$arch" = arm64 ]; then
  # pauth-impdef: TCG's architected pointer authentication costs more than the rest of the CPU.
  machine=(qemu-system-aarch64 -machine 'virt,accel=tcg' -cpu 'max,pauth-impdef=on') console=ttyAMA0
else
  # One thread for all vCPUs: with a thread each (MTTCG), a vCPU could still run code the
  # other had just patched (text_poke_bp's int3, when a tracepoint is attached or
  # detached), which 6.12 reported as an Oops in syscall_trace_enter; the CI's guests
  # share two cores anyway.
  machine=(qemu-system-x86_64 -machine q35 -accel 'tcg,thread=single' -cpu max -vga none) console=ttyS0
fi
"${machine[@]}" -smp "${VM_CPUS:-2}" -m "${VM_MEMORY:-3G}" -nic none \
  -no-reboot -display none -monitor none -serial stdio \
  -kernel "$kdir/vmlinuz" -initrd "$initramfs" \
  -append "console=$console quiet loglevel=1 panic=-1 tapwire.stage2=$stage2" \
  -fsdev local,id=hostroot,path="$guest_root",security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -fsdev local,id=kernel,path="$kdir",security_model=none,readonly=on \
  -device virtio-9p-pci,fsdev=kernel,mount_tag=kernel \
  -fsdev local,id=out,path="$out",security_model=none \
  -device virtio-9p-pci,fsdev=out,mount_tag=out </dev/null || true
[ -f "$out/rc" ] && status=$(cat "$out/rc")
exit "$status"
