#!/usr/bin/env bash
# Checks that an addon loads wherever Node 20's official binary does:
#   - it needs no shared library but the C/C++ runtime (ldd, run in ROOT when given, so
#     the libraries are resolved as an older distribution would resolve them);
#   - its versioned references are no newer than Node 20's own (objdump -T);
#   - it exports none of the symbols of the libraries linked into it.
# Usage: check-binary.sh FILE.node [ROOT]. One PASS/FAIL line each; exit 1 on any FAIL.
set -uo pipefail
. "$(dirname "$0")/lib/report.sh"
file=$1 root=${2:-}

allowed='^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$'
if readelf -h "$file" | grep -q 'Machine: *AArch64' && [ "$(uname -m)" != aarch64 ]; then
  # A cross-compiled addon: its own loader, run by qemu-user, lists what it needs
  # from ROOT's cross runtime (the same glibc and libstdc++ as ROOT's own).
  sysroot=$root/usr/aarch64-linux-gnu
  listing=$(qemu-aarch64-static -L "$sysroot" "$sysroot/lib/ld-linux-aarch64.so.1" --list "$file" 2>&1)
elif [ -n "$root" ]; then
  copy=$(mktemp -p "$root/tmp" addon.XXXXXX.node)
  cp "$file" "$copy"
  listing=$(chroot "$root" ldd "/tmp/$(basename "$copy")" 2>&1)
  rm -f "$copy"
else
  listing=$(ldd "$file" 2>&1)
fi
names=$(awk '{print $1}' <<<"$listing" | xargs -n1 basename | sort)
if grep -q 'not found' <<<"$listing"; then
  fail "ldd: unresolved: $(grep 'not found' <<<"$listing" | tr -s ' \t' ' ' | paste -sd ';')"
elif others=$(grep -Ev "$allowed" <<<"$names"); then
  fail "ldd: needs more than the C/C++ runtime: $(paste -sd ' ' <<<"$others")"
else
  pass "ldd: $(paste -sd ' ' <<<"$names")"
fi

# Node 20's official linux-x64 binary needs at most these.
declare -A floor=([GLIBC]=2.28 [GLIBCXX]=3.4.21 [CXXABI]=1.3.9 [GCC]=3.4)
refs=$(objdump -T "$file" | grep -Eo '\b(GLIBC|GLIBCXX|CXXABI|GCC)_[0-9][0-9.]*' | sort -u)
for ns in GLIBC GLIBCXX CXXABI GCC; do
  highest=$(grep "^${ns}_" <<<"$refs" | sed "s/^${ns}_//" | sort -V | tail -n1)
  [ -z "$highest" ] && continue
  if [ "$(printf '%s\n%s\n' "$highest" "${floor[$ns]}" | sort -V | tail -n1)" = "${floor[$ns]}" ]; then
    pass "floor: ${ns}_$highest (Node 20 needs up to ${ns}_${floor[$ns]})"
  else
    fail "floor: ${ns}_$highest is newer than Node 20's ${ns}_${floor[$ns]}: $(objdump -T "$file" | grep "${ns}_$highest" | awk '{print $NF}' | paste -sd ' ')"
  fi
done

leaked=$(nm -D --defined-only "$file" | awk '{print $3}' | grep -E '^(pcap_|bpf_|btf_|libbpf_|ring_buffer__|perf_buffer__|elf_|elf32_|elf64_|gelf_|inflate|deflate|crc32|adler32|z)' || true)
if [ -n "$leaked" ]; then
  fail "exports: $(wc -l <<<"$leaked") library symbols, e.g. $(head -n3 <<<"$leaked" | paste -sd ' ')"
else
  pass "exports: no pcap, libbpf, libelf or zlib symbol"
fi
[ "$failures" -eq 0 ]
