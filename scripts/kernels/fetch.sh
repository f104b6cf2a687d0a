#!/usr/bin/env bash
# Downloads one of Debian's packaged kernels and unpacks it for scripts/kernels/vm.sh:
#   fetch.sh 6.12|6.1|5.10|6.1-arm64   → prints the directory holding vmlinuz and lib/modules/RELEASE
# 6.12 is Debian 13's kernel as bookworm-backports carries it (a distro kernel with tcx),
# 6.1 Debian 12's (bookworm), 5.10 Debian 11's (bullseye-security); 6.1-arm64 is
# Debian 12's arm64 kernel, which vm.sh boots in qemu-system-aarch64. apt runs with a
# private sources list and state directory, so the system's apt setup is untouched.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
series=${1:?usage: fetch.sh 6.12|6.1|5.10|6.1-arm64}
arch=amd64
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="$root/deps/kernels"
mirror=${TAPWIRE_DEBIAN_MIRROR:-http://deb.debian.org}
# Each series: its suites, and its image packages' release names (a glob, and the same as
# a regular expression for apt-cache).
case $series in
  6.12) suites=("debian bookworm-backports") release_glob='6.12.*+deb12-amd64' release_re='6\.12\.[0-9]+\+deb12-amd64' ;;
  6.1) suites=("debian bookworm" "debian-security bookworm-security") release_glob='6.1.0-*-amd64' release_re='6\.1\.0-[0-9]+-amd64' ;;
  5.10) suites=("debian bullseye" "debian-security bullseye-security") release_glob='5.10.0-*-amd64' release_re='5\.10\.0-[0-9]+-amd64' ;;
  6.1-arm64) arch=arm64 suites=("debian bookworm" "debian-security bookworm-security") release_glob='6.1.0-*-arm64' release_re='6\.1\.0-[0-9]+-arm64' ;;
  *) echo "fetch.sh: no recipe for kernel $series (have 6.12, 6.1, 5.10, 6.1-arm64)" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086 # the glob is meant to expand
existing=$(printf '%s
' "$cache"/$release_glob/ | sort -V | tail -n1)
if [ -n "$existing" ] && [ -f "$existing/vmlinuz" ] && [ -f "$existing/ready" ]; then
  echo "${existing%/}"
  exit 0
fi
apt_dir="$cache/apt-$arch"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
: > "$apt_dir/sources.list"
for s in "${suites[@]}"; do
  read -r archive suite <<<"$s"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror/$archive $suite main" >> "$apt_dir/sources.list"
done
opts=(-o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=- \
  -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir" -o Debug::NoLocking=1 -o APT::Sandbox::User=root \
  -o APT::Architecture="$arch" -o APT::Architectures="$arch")
{
  apt-get "${opts[@]}" update -qq
  pkg=$(apt-cache "${opts[@]}" search --names-only "^linux-image-$release_re\$" |
    awk '{print $1}' | sort -V | tail -n1)
  [ -n "$pkg" ] || { echo "fetch.sh: no linux-image package for $series" >&2; exit 1; }
  release=${pkg#linux-image-}
  dir="$cache/$release"
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$apt_dir" && apt-get "${opts[@]}" download "$pkg")
  dpkg-deb -x "$apt_dir/${pkg}_"*.deb "$dir/root"
  rm -f "$apt_dir/${pkg}_"*.deb
  mv "$dir/root/boot/vmlinuz-$release" "$dir/vmlinuz"
  mkdir -p "$dir/lib/modules"
  mv "$dir/root/lib/modules/$release" "$dir/lib/modules/"
  rm -rf "$dir/root"
  # 6.12's modules come xz-compressed; the guest's modprobe (busybox) loads plain ones.
  find "$dir/lib/modules/$release" -name '*.ko.xz' -print0 | xargs -0 -r -n 256 -P "$(nproc)" busybox unxz
  busybox depmod -b "$dir" "$release"
  touch "$dir/ready"
} >&2
echo "$dir"
