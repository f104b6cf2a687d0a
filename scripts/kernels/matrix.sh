#!/usr/bin/env bash
# The kernel matrix: the test suite (the README's test command) run as root on this
# machine's kernel ('host') and inside each of Debian's packaged kernels, booted in
# qemu over this machine's userland.
#   matrix.sh [host|6.12|6.1|5.10[:kernel-facing] ...]
#   default: host 6.12:kernel-facing 6.1:kernel-facing 5.10:kernel-facing
# A kernel named with ':kernel-facing' runs only the test files listed in kernel_facing
# below; the others run the whole suite. Each run starts with `tapwire probe --json`
# (lines prefixed "probe| ") and "suite| whole" or "suite| kernel-facing", then mocha's
# spec output; the log is kept in deps/kernels/RELEASE/test.log for table.js. The qemu
# kernels run side by side; each log is printed whole when all are done, then per
# kernel "kernel RELEASE: N passed, N failed, N skipped" from mocha's own summary.
# Exits non-zero if any kernel failed a test or its run did not report.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
series=("$@")
[ ${#series[@]} -gt 0 ] || series=(host 6.12:kernel-facing 6.1:kernel-facing 5.10:kernel-facing)

# The test files that face the kernel: what each kernel's features, verifier, attach
# points and uprobes decide (both backends and their attach modes, filters run in the
# kernel, reduced hosts, TLS, attribution, cgroups, the kernel state left after close
# and SIGKILL, drops under load). The rest (file formats, replay, the command line's
# flags and output, options, selection tables, the examples, the package) run the same
# on every kernel: the host runs them, the emulated kernels need not. Globs, so a
# new tls-* or command* file is one of these. (docs/backends.md says the same.)
shopt -s nullglob
kernel_facing=(
  test/capture.test.js test/loopback.test.js test/netns.test.js test/interfaces.test.js test/follow.test.js
  test/hosts.test.js test/cleanup.test.js test/lifecycle.test.js test/soak.test.js
  test/filter-translation.test.js test/filter-semantics.test.js test/filter-errors.test.js test/native/*.test.js
  test/tls*.test.js test/attribution.test.js test/cgroup.test.js test/command*.test.js test/zero-copy.test.js test/vlan.test.js
)
shopt -u nullglob
probe='node bin/tapwire.js probe --json | sed "s/^/probe| /"'
whole=(bash -c "$probe; echo 'suite| whole'; exec npm test -- --reporter spec --no-color \"\$@\"" run)
subset=(bash -c "$probe; echo 'suite| kernel-facing'; exec node_modules/.bin/mocha --no-config --exit --timeout 60000 --reporter spec --no-color \"\$@\"" run)
# Emulated kernels run everything 5 to 10 times slower: each test gets that much longer.
emulated=(--timeout 300000)

if [[ " ${series[*]} " =~ \ [0-9] ]]; then
  # What booting a kernel needs (scripts/setup.sh has what the tests need).
  packages=(qemu-system-x86 busybox-static cpio)
  missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>&1 | grep -v '^ii ' || true)
  if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  fi
fi

# One kernel's run: its log in deps/kernels/RELEASE/test.log, and its "kernel RELEASE:
# ..." line in deps/kernels/NAME.summary.
run_one() {
  local s=$1 start kdir release log rc run files=()
  start=$(date +%s)
  run=("${whole[@]}")
  if [ "${s#*:}" = kernel-facing ]; then
    run=("${subset[@]}")
    files=("${kernel_facing[@]}")
  fi
  s=${s%%:*}
  if [ "$s" = host ]; then
    release=$(uname -r)
    mkdir -p deps/kernels/host
    log=deps/kernels/host/test.log
    "${run[@]}" "${files[@]}" >"$log" 2>&1
    rc=$?
  else
    kdir=${kernel_dir[$s]}
    release=$(basename "$kdir")
    log="$kdir/test.log"
    scripts/kernels/vm.sh "$kdir" -- "${run[@]}" "${emulated[@]}" "${files[@]}" 2>&1 | tr -d '\r' >"$log"
    rc=${PIPESTATUS[0]}
  fi
  [ ${#files[@]} -eq 0 ] || release="$release (kernel-facing files)"
  local passed failed skipped
  count() { grep -Eo "^ +[0-9]+ $1" "$log" | grep -Eo '[0-9]+' | tail -n1; }
  passed=$(count passing) failed=$(count failing) skipped=$(count pending)
  if [ -z "$passed" ] && [ -z "$failed" ]; then
    echo "kernel $release: the run gave no test summary (exit $rc)" >>"$log"
    failed=1
  fi
  [ "$rc" -eq 0 ] || [ "${failed:-0}" -gt 0 ] || failed=1
  echo "$log" >"deps/kernels/$s.log-path"
  echo "kernel $release: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped ($(( $(date +%s) - start )) s)" >"deps/kernels/$s.summary"
}

# The emulated kernels run side by side: each keeps about one of this machine's cores
# busy, and together they take little longer than one. The host runs alone first, so
# its timings are its own.
mkdir -p deps/kernels
rm -f deps/kernels/*.summary deps/kernels/*.log-path
declare -A kernel_dir
for s in "${series[@]%%:*}"; do
  [ "$s" = host ] && continue
  # One at a time: they share fetch.sh's apt state.
  kernel_dir[$s]=$(scripts/kernels/fetch.sh "$s") ||
    echo "kernel $s (not fetched): 0 passed, 1 failed, 0 skipped" >"deps/kernels/$s.summary"
done
pids=()
for s in "${series[@]}"; do
  if [ "${s%%:*}" = host ]; then
    run_one "$s"
  elif [ -n "${kernel_dir[${s%%:*}]:-}" ]; then
    run_one "$s" &
    pids+=($!)
  fi
done
[ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"

status=0
for s in "${series[@]%%:*}"; do
  [ -f "deps/kernels/$s.log-path" ] && cat "$(cat "deps/kernels/$s.log-path")"
done
# What failed, again after all the logs: a CI page that keeps only the end still shows it.
for s in "${series[@]%%:*}"; do
  [ -f "deps/kernels/$s.log-path" ] || continue
  log=$(cat "deps/kernels/$s.log-path")
  # A guest kernel's own complaints say whether a failure was the kernel's or ours.
  oops=$(grep -E '^\[ *[0-9.]+\] (Oops|BUG|WARNING|general protection|kernel BUG)' "$log" | head -n 5)
  [ -z "$oops" ] || printf 'kernel messages on %s:\n%s\n' "$(basename "$(dirname "$log")")" "$oops"
  grep -Eq '^ +[0-9]+ failing' "$log" || continue
  echo "failures on $(basename "$(dirname "$log")"):"
  sed -n '/^ \+[0-9]\+ failing/,$p' "$log" | head -n 80
done
for s in "${series[@]%%:*}"; do
  line=$(cat "deps/kernels/$s.summary" 2>/dev/null || echo "kernel $s (did not report): 0 passed, 1 failed, 0 skipped")
  echo "$line"
  grep -Eq ', 0 failed' <<<"$line" || status=1
done
exit "$status"
