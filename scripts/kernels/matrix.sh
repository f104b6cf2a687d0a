#!/usr/bin/env bash
# The kernel matrix: the test suite (the README's test command) run as root inside
# each of Debian's packaged kernels, booted in qemu over this machine's userland.
#   matrix.sh [SERIES...]   default: 6.1 5.10
# Prints per kernel "kernel RELEASE: N passed, N failed, N skipped" from mocha's own
# summary and keeps each log in deps/kernels/RELEASE/test.log. Exits non-zero if any
# kernel failed a test, or its VM did not report.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
series=("$@")
[ ${#series[@]} -gt 0 ] || series=(6.1 5.10)
status=0
for s in "${series[@]}"; do
  kdir=$(scripts/kernels/fetch.sh "$s") || { echo "kernel $s: could not be fetched"; echo "kernel $s: 0 passed, 1 failed, 0 skipped"; status=1; continue; }
  release=$(basename "$kdir")
  log="$kdir/test.log"
  start=$(date +%s)
  scripts/kernels/vm.sh "$kdir" -- npm test -- --reporter spec --color false 2>&1 | tr -d '\r' | tee "$log"
  rc=${PIPESTATUS[0]}
  count() { grep -Eo "^ +[0-9]+ $1" "$log" | grep -Eo '[0-9]+' | tail -n1; }
  passed=$(count passing); failed=$(count failing); skipped=$(count pending)
  if [ -z "$passed" ] && [ -z "$failed" ]; then
    echo "kernel $release: the VM gave no test summary (exit $rc)"
    failed=1
  fi
  [ "$rc" -eq 0 ] && [ "${failed:-0}" -eq 0 ] || status=1
  echo "kernel $release: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped ($(( $(date +%s) - start )) s)"
done
exit "$status"
