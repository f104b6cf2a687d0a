#!/usr/bin/env bash
# The kernel matrix: the test suite (the README's test command) run as root on this
# machine's kernel ('host') and inside each of Debian's packaged kernels, booted in
# qemu over this machine's userland.
#   matrix.sh [host|6.1|5.10 ...]   default: host 6.1 5.10
# Each run starts with `tapwire probe --json` (lines prefixed "probe| "), then mocha's
# spec output; the log is kept in deps/kernels/NAME/test.log for table.js. Prints per
# kernel "kernel RELEASE: N passed, N failed, N skipped" from mocha's own summary, and
# exits non-zero if any kernel failed a test or its VM did not report.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
series=("$@")
[ ${#series[@]} -gt 0 ] || series=(host 6.1 5.10)
run=(bash -c 'node bin/tapwire.js probe --json | sed "s/^/probe| /"; exec npm test -- --reporter spec --no-color')

if [[ " ${series[*]} " =~ \ (6\.1|5\.10)\  ]]; then
  # What booting a kernel needs (scripts/setup.sh has what the tests need).
  packages=(qemu-system-x86 busybox-static cpio)
  missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>&1 | grep -v '^ii ' || true)
  if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  fi
fi

status=0
for s in "${series[@]}"; do
  start=$(date +%s)
  if [ "$s" = host ]; then
    release=$(uname -r)
    mkdir -p deps/kernels/host
    log=deps/kernels/host/test.log
    "${run[@]}" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
  else
    kdir=$(scripts/kernels/fetch.sh "$s") || { echo "kernel $s: could not be fetched"; echo "kernel $s: 0 passed, 1 failed, 0 skipped"; status=1; continue; }
    release=$(basename "$kdir")
    log="$kdir/test.log"
    scripts/kernels/vm.sh "$kdir" -- "${run[@]}" 2>&1 | tr -d '\r' | tee "$log"
    rc=${PIPESTATUS[0]}
  fi
  count() { grep -Eo "^ +[0-9]+ $1" "$log" | grep -Eo '[0-9]+' | tail -n1; }
  passed=$(count passing); failed=$(count failing); skipped=$(count pending)
  if [ -z "$passed" ] && [ -z "$failed" ]; then
    echo "kernel $release: the run gave no test summary (exit $rc)"
    failed=1
  fi
  [ "$rc" -eq 0 ] && [ "${failed:-0}" -eq 0 ] || status=1
  echo "kernel $release: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped ($(( $(date +%s) - start )) s)"
done
exit "$status"
