#!/usr/bin/env bash
# Makes (once) and prints an arm64 Debian 12 userland for scripts/kernels/vm.sh to boot
# Debian's arm64 kernel over (VM_ROOT): the packages the arm64 checks use (bash, iproute2,
# curl, openssl, tcpdump, tshark, busybox for the initramfs and modprobe) with what they
# depend on, unpacked (dash for /bin/sh), and the official arm64 Node of LINE (default 24) as
# /usr/local/bin/node. The packages are only unpacked (no maintainer scripts, which
# would need an arm64 CPU): the few files their scripts would make are written here.
#   arm64-root.sh [LINE]    → prints the root's directory (deps/arm64/root)
# apt runs with a private sources list, state and status, so the system's apt setup is untouched.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
line=${1:-24}
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="$root/deps/arm64"
out="$cache/root"
mirror=${TAPWIRE_DEBIAN_MIRROR:-http://deb.debian.org}
packages=(bash dash coreutils busybox-static iproute2 curl openssl tcpdump tshark mount grep sed findutils gawk procps)

node=$(TAPWIRE_NODE_ARCH=arm64 bash "$root/scripts/package-check/node.sh" "$line")
version=$(basename "$(dirname "$(dirname "$node")")")
if [ -f "$out/.tapwire-ready" ] && [ "$(cat "$out/.tapwire-ready")" = "$version ${packages[*]}" ]; then
  echo "$out"
  exit 0
fi

apt_dir="$cache/apt"
rm -rf "$apt_dir" "$out"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$out"
: > "$apt_dir/status"
{
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror/debian bookworm main"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror/debian-security bookworm-security main"
} > "$apt_dir/sources.list"
# An empty status: apt resolves every dependency from nothing, as for a new machine.
opts=(-o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$apt_dir/lists"
  -o Dir::Cache="$apt_dir" -o Dir::State::status="$apt_dir/status" -o Debug::NoLocking=1 -o APT::Sandbox::User=root
  -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o APT::Install-Recommends=false)
{
  apt-get "${opts[@]}" update -qq
  apt-get "${opts[@]}" install -y -qq --download-only "${packages[@]}"
  for deb in "$apt_dir"/archives/*.deb; do dpkg-deb -x "$deb" "$out"; done
  rm -rf "$apt_dir"
} >&2
# What base-passwd's and the packages' scripts would have made: root, and tcpdump's user
# (tcpdump drops to it after opening the capture).
mkdir -p "$out/etc" "$out/tmp" "$out/root" "$out/usr/local/bin" "$out/proc" "$out/sys" "$out/dev" "$out/run"
chmod 1777 "$out/tmp"
printf 'root:x:0:0:root:/root:/bin/bash\ntcpdump:x:104:110::/nonexistent:/usr/sbin/nologin\n' > "$out/etc/passwd"
printf 'root:x:0:\ntcpdump:x:110:\n' > "$out/etc/group"
echo 'hosts: files' > "$out/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$out/etc/hosts"
cp "$node" "$out/usr/local/bin/node"
echo "$version ${packages[*]}" > "$out/.tapwire-ready"
echo "$out"
