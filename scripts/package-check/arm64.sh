#!/usr/bin/env bash
# The packed tarball on an arm64 machine: Debian 12's arm64 kernel (scripts/kernels/fetch.sh
# 6.1-arm64) booted in qemu-system-aarch64 over an arm64 Debian 12 userland with the
# official arm64 Node of LINE (scripts/kernels/arm64-root.sh), the tarball installed into
# a project there as npm installs it, and arm64-guest.sh's checks run inside.
#   arm64.sh TARBALL [LINE]    PASS/FAIL lines ("PASS: arm64: ..."); exits 1 on any failure
# Needs root, qemu-system-arm and the network (Debian's archive and the npm registry).
set -uo pipefail
tarball=$(readlink -f "${1:?usage: arm64.sh TARBALL [LINE]}")
line=${2:-24}
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/scripts/package-check"
kernel=$(bash "$root/scripts/kernels/fetch.sh" 6.1-arm64) || { echo "FAIL: arm64: no arm64 kernel (scripts/kernels/fetch.sh 6.1-arm64)"; exit 1; }
userland=$(bash "$root/scripts/kernels/arm64-root.sh" "$line") || { echo "FAIL: arm64: no arm64 userland (scripts/kernels/arm64-root.sh)"; exit 1; }
app="$userland/app"
logs=$(dirname "$userland")
trap 'rm -rf "$app"' EXIT
rm -rf "$app" && mkdir -p "$app" && echo '{ "private": true }' >"$app/package.json"
# The install script would choose the prebuild with this host's node: the guest runs it
# with its own.
if ! (cd "$app" && npm install --no-audit --no-fund --ignore-scripts "$tarball") >"$logs/install.log" 2>&1; then
  echo "FAIL: arm64: npm install of the tarball: $(tail -n 5 "$logs/install.log")"
  exit 1
fi
cp "$here/arm64-guest.sh" "$here/judge.sh" "$here/loopback.js" "$here/tls.js" "$root/scripts/lib/report.sh" "$app/"
VM_ROOT=$userland VM_CPUS=${VM_CPUS:-2} bash "$root/scripts/kernels/vm.sh" "$kernel" -- bash /app/arm64-guest.sh 2>&1 | tr -d '\r' | tee "$logs/guest.out" | grep -E '^(PASS|FAIL):'
status=${PIPESTATUS[0]}
grep -q '^PASS: ' "$logs/guest.out" || { echo "FAIL: arm64: the guest reported nothing (exit $status): $(tail -n 20 "$logs/guest.out")"; exit 1; }
exit "$status"
