#!/usr/bin/env bash
# Before a source build (npm install --build-from-source, or no prebuilt binary for
# this platform): says which system packages are missing, instead of letting the
# compiler or a configure script fail on the first one half-way through.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps=${TAPWIRE_DEPS:-$root/deps}

# command → the Debian/Ubuntu package that provides it
declare -A package=(
  [python3]=python3 [make]=make [cc]=gcc [g++]=g++          # node-gyp and the C libraries
  [clang]=clang [bpftool]=bpftool                           # the BPF programs and their skeletons
  [flex]=flex [bison]=bison                                 # libpcap's filter parser
  [bzip2]=bzip2 [xz]=xz-utils                               # unpacking the source packages
  [dpkg-source]=dpkg-dev [apt-get]=apt                      # fetching them
)
need=(python3 make cc g++ clang bpftool flex bison)
for lib in zlib elfutils libpcap libbpf; do
  [ -f "$deps/src/$lib/.unpacked" ] || { need+=(bzip2 xz dpkg-source apt-get); fetching=1; break; }
done

missing=()
for cmd in "${need[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${package[$cmd]}"); done
problems=()
if [ ${#missing[@]} -gt 0 ]; then
  problems+=("missing system packages: ${missing[*]}
    install them: apt-get install ${missing[*]}
    (on Ubuntu, bpftool comes with linux-tools-common and linux-tools-\$(uname -r))")
fi
if [ -n "${fetching:-}" ] && command -v apt-cache >/dev/null 2>&1; then
  if [ -z "$(apt-cache showsrc libbpf 2>/dev/null)" ]; then
    problems+=("apt has no source packages: zlib, elfutils, libpcap and libbpf are built from them
    add deb-src entries beside your deb entries (the same URIs and suites), then apt-get update")
  fi
fi
[ ${#problems[@]} -eq 0 ] && exit 0

{
  echo "tapwire: cannot build the native addon from source here:"
  for p in "${problems[@]}"; do echo "  - $p"; done
  if { [ "$(uname -m)" = x86_64 ] && [ -e /lib64/ld-linux-x86-64.so.2 ]; } || { [ "$(uname -m)" = aarch64 ] && [ -e /lib/ld-linux-aarch64.so.1 ]; }; then
    echo "  No build is needed on linux-x64 or linux-arm64 with glibc: the package ships a"
    echo "  prebuilt addon (drop --build-from-source to use it)."
  else
    echo "  The package ships prebuilt addons for linux-x64 and linux-arm64 (glibc) only."
  fi
} >&2
exit 1
