#!/usr/bin/env bash
# Memory-safety and soak checks, run once on the host by .ci/run (not in each kernel's
# run: what they test is the addon's own code):
#   memcheck.sh                       every check (mocha over test/memcheck/*.check.js);
#                                     ends with "memcheck: N passed, N failed, N skipped"
#                                     (TAPWIRE_ASAN=all: the longer list of files under ASan)
# and the steps those checks call:
#   memcheck.sh asan-build DIR        a copy of the package in DIR whose addon is built
#                                     with ASan and UBSan (clang, shared runtime)
#   memcheck.sh asan-test DIR FILE... mocha over FILEs in DIR, node with ASan's runtime
#                                     preloaded; fails on a failed test or on any report
#   memcheck.sh valgrind              a short capture on each backend under memcheck
#   memcheck.sh fuzz-filter SECONDS   the translator's libFuzzer harness on its corpus
#   memcheck.sh fuzz-readers SECONDS  the capture-file readers' fuzzer
#
# Sanitizer settings: ASan with leak detection on (LeakSanitizer reports what is
# unreachable when a process ends: node frees its heap on a normal exit, so a report is
# a leak), UBSan halting on the first error; every report goes to a log file (children
# included), and any log file fails the run.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

asan_runtime() { clang -print-file-name=libclang_rt.asan-x86_64.so; }

asan_build() {
  local dir=$1
  rm -rf "$dir" && mkdir -p "$dir"
  git ls-files -z --cached --others --exclude-standard | xargs -0 tar cf - | tar xf - -C "$dir"
  cp -r dist "$dir/"
  ln -s "$root/node_modules" "$dir/node_modules"
  local flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1"
  (cd "$dir" && JOBS=max TAPWIRE_DEPS="$root/deps" CC=clang CXX=clang++ CFLAGS="$flags" CXXFLAGS="$flags" \
    LDFLAGS="-fsanitize=address,undefined -shared-libasan" \
    npm run build:native >build.log 2>&1) \
    || { tail -30 "$dir/build.log" >&2; return 1; }
}

asan_test() {
  local dir=$1 logs
  shift
  logs=$(mktemp -d)
  # Leaks are reported to the logs without changing exit codes (exitcode=0): the
  # programs the tests run (ip, tcpdump) leave memory at exit, and so does node when a
  # child calls process.exit(); sanitizer-reports.js counts the addon's own.
  (cd "$dir" && LD_PRELOAD=$(asan_runtime) TAPWIRE_DEPS="$root/deps" \
    ASAN_OPTIONS="detect_leaks=1:log_path=$logs/asan" LSAN_OPTIONS="exitcode=0" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan" \
    node_modules/.bin/mocha --no-config --exit --timeout 180000 --reporter dot \
    --require test/memcheck/asan-children.js "$@")
  local rc=$?
  node test/memcheck/sanitizer-reports.js "$logs" || rc=1
  rm -rf "$logs"
  return $rc
}

valgrind_capture() {
  local raw='{"backend":"raw-socket","batchTimeout":1,"bufferSize":1048576}'
  local lent='{"backend":"raw-socket","batchTimeout":1,"bufferSize":1048576,"zeroCopy":true}'
  local tcx='{"backend":"ebpf","attach":"tcx","bufferSize":1048576}'
  local socket='{"backend":"ebpf","attach":"socket","bufferSize":1048576}'
  local variants="[$raw,$lent,$tcx,$socket]"
  # A kernel without tcx (before 6.6) captures with the others.
  node -e 'process.exit(require("./dist/native").native().probe().tcx.ok ? 0 : 1)' || variants="[$raw,$lent,$socket]"
  TAPWIRE_CYCLES="{\"cycles\":2,\"warmup\":1,\"port\":23990,\"variants\":$variants}" \
    valgrind -s --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
    --num-callers=30 --suppressions=test/memcheck/valgrind.supp node --expose-gc test/fixtures/cycles.js
}

fuzz_filter() {
  local seconds=$1 work deps
  work=$(mktemp -d)
  deps=$(bash scripts/static-deps.sh) || return 1
  clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I"$deps/include" \
    test/fuzz/filter_translator.cc test/fuzz/classic_reference.cc native/ebpf/filter_program.cc \
    "$deps"/lib/libbpf.a "$deps"/lib/libelf.a "$deps"/lib/libpcap.a "$deps"/lib/libz.a -o "$work/filter_translator" || return 1
  mkdir -p "$work/corpus"
  # New inputs go to the work corpus; the seeds in the repository stay as they are.
  "$work/filter_translator" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" test/fuzz/corpus/filter 2>&1 | grep -Ev '^#[0-9]+\s+(NEW|REDUCE|pulse)|# Uses: [0-9]+$'
  local rc=${PIPESTATUS[0]}
  for crash in "$work"/crash-* "$work"/timeout-*; do
    [ -e "$crash" ] && echo "memcheck: $(basename "$crash"): $(base64 -w0 "$crash")" >&2
  done
  rm -rf "$work"
  return "$rc"
}

case "${1:-all}" in
  asan-build) asan_build "$2" ;;
  asan-test) asan_test "${@:2}" ;;
  valgrind) valgrind_capture ;;
  fuzz-filter) fuzz_filter "$2" ;;
  fuzz-readers) node test/fuzz/readers.js "$2" ;;
  all)
    # One file after another: run beside the ASan tests, the soak took four times as long
    # as alone and slowed them as much (both open and close captures without pause).
    results=$(mktemp)
    node_modules/.bin/mocha --no-config --exit --reporter spec --timeout 900000 \
      test/memcheck/sanitizers.check.js test/memcheck/valgrind.check.js test/memcheck/fuzz.check.js \
      test/memcheck/soak.check.js 2>&1 | tee "$results"
    status=${PIPESTATUS[0]}
    # mocha's own summary: the first "  N passing (time)" and the lines that follow it. A
    # failed check's message can hold a whole inner mocha run, summary included, after it.
    count() {
      awk -v what="$1" '/^  [0-9]+ passing \(/ { on = 1 } on && !/^  [0-9]+ (passing|pending|failing)/ { exit }
        on && $2 == what { print $1; exit }' "$results"
    }
    p=$(count passing) f=$(count failing) s=$(count pending)
    [ -n "$p$f" ] || f=1   # no summary: the run itself failed
    rm -f "$results"
    echo "memcheck: ${p:-0} passed, ${f:-0} failed, ${s:-0} skipped"
    [ "$status" -eq 0 ] && [ "${f:-0}" -eq 0 ]
    ;;
  *) echo "usage: memcheck.sh [asan-build DIR | asan-test DIR FILE... | valgrind | fuzz-filter SECONDS | fuzz-readers SECONDS]" >&2; exit 2 ;;
esac
