#!/usr/bin/env bash
# Makes (once) and prints a Debian 11 (bullseye) root under deps/: glibc 2.31 and
# GCC 10, so what is compiled in it needs no newer glibc or libstdc++ than Node 20's
# own binary (GLIBC_2.28, GLIBCXX_3.4.21). Holds a C/C++ toolchain, flex and bison for
# the static libraries; no clang or bpftool (bullseye's are too old), and no node.
# Usage: bullseye-root.sh [PACKAGE...]: also installs these (a cross compiler) if missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/deps/bullseye"
tools=(g++ make python3 flex bison m4 binutils)
extra=("$@")
if [ -f "$out/.tapwire-ready" ]; then
  if [ ${#extra[@]} -gt 0 ] && ! chroot "$out" dpkg-query -W "${extra[@]}" >/dev/null 2>&1; then
    chroot "$out" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${extra[@]}" >&2
  fi
  echo "$out"
  exit 0
fi

# The mirror the host's own Debian entries use (bullseye is on every Debian mirror).
mirror=$(grep -hEo '^URIs: *https?://[^ ]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | sed 's/^URIs: *//' || true)
[ -n "$mirror" ] || mirror=$(grep -hEo '^deb +https?://[^ ]+/debian/? ' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}' || true)
mirror=${mirror:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || { echo "bullseye-root: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }

rm -rf "$out"
{
  debootstrap --variant=minbase bullseye "$out" "$mirror"
  chroot "$out" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tools[@]}" "${extra[@]}"
  chroot "$out" apt-get clean
} >&2
touch "$out/.tapwire-ready"
echo "$out"
