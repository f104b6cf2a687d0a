#!/usr/bin/env bash
# Builds libbpf as a position-independent static library from the distribution's own
# source package (Debian's libbpf.a is not built with -fPIC, so it cannot go into a
# .node), with hidden symbols so it cannot clash with another copy in the process.
# Prints the directory that holds lib/libbpf.a and include/bpf/ (binding.gyp reads it).
# Needs deb-src entries for apt (scripts/setup.sh adds them) and dpkg-dev.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/deps/libbpf"
if [ -f "$out/lib/libbpf.a" ] && [ -f "$out/include/bpf/libbpf.h" ]; then
  echo "$out"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  cd "$work"
  apt-get source --download-only libbpf
  dpkg-source -x libbpf_*.dsc src
  mkdir -p "$work/obj"
  make -C src/src -j"$(nproc)" BUILD_STATIC_ONLY=1 OBJDIR="$work/obj" \
    CFLAGS="-fPIC -O2 -fvisibility=hidden" \
    DESTDIR="$out" PREFIX= LIBDIR=/lib INCLUDEDIR=/include UAPIDIR=/include install install_uapi_headers
} >&2
echo "$out"
