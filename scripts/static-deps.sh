#!/usr/bin/env bash
# Builds the C libraries the addon links statically, so the .node needs none of them
# installed: zlib, libelf (from elfutils), libpcap (filter compilation only) and libbpf,
# each from the distribution's own source package, position-independent (-fPIC: the
# distribution's .a files are not) with hidden symbols (so they cannot clash with other
# copies in the process).
#
#   static-deps.sh          fetch what is missing, build what is missing, print the prefix
#   static-deps.sh fetch    only fetch and unpack the sources (needs apt, not a compiler)
#
# The prefix (include/, lib/) is per distribution and machine, deps/static/ID-VERSION-ARCH,
# because a library built against a newer glibc binds newer symbols. Sources are kept in
# deps/src/ and shared by every prefix, so a chroot can build what the host fetched.
# TAPWIRE_DEPS moves deps/ (the prebuild shares one between the host and its chroot);
# TAPWIRE_TARGET, a GNU triplet such as aarch64-linux-gnu, cross-compiles with its gcc.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps=${TAPWIRE_DEPS:-$root/deps}
src=$deps/src
libraries=(zlib elfutils libpcap libbpf)
# libbpf's API as used by native/ (bpf_program__attach_uprobe_opts with func_name, ...).
min_libbpf=1.1

fetch() {
  local name=$1 tmp
  [ -f "$src/$name/.unpacked" ] && return 0
  tmp=$(mktemp -d)
  chown _apt "$tmp" 2>/dev/null || true   # apt downloads as _apt where that user exists
  # Every version the source indexes list, newest first (apt's own choice), then older
  # ones: a mirror may list an update (a security one, say) whose files it does not serve yet.
  local versions v got=
  local listed sorted=() i
  listed=$(apt-cache showsrc "$name" 2>/dev/null | awk -v n="$name" '/^Package:/ { p = $2 } /^Version:/ && p == n { print $2 }' | sort -u)
  for v in $listed; do   # dpkg's order (epochs, ~, +): newest first
    i=0
    while [ "$i" -lt ${#sorted[@]} ] && dpkg --compare-versions "${sorted[$i]}" gt "$v"; do i=$((i + 1)); done
    sorted=("${sorted[@]:0:$i}" "$v" "${sorted[@]:$i}")
  done
  versions=${sorted[*]}
  if [ -z "$versions" ]; then
    echo "static-deps: no source package $name: add deb-src entries for your distribution (see scripts/setup.sh)" >&2
    rm -rf "$tmp"; return 1
  fi
  for v in $versions; do
    rm -f "$tmp"/*
    if (cd "$tmp" && apt-get source --download-only -qq "$name=$v") >&2; then got=$v; break; fi
    echo "static-deps: 'apt-get source $name=$v' failed; trying an older version if the index lists one" >&2
  done
  if [ -z "$got" ]; then
    echo "static-deps: no version of $name's source could be downloaded ($versions); check the mirror" >&2
    rm -rf "$tmp"; return 1
  fi
  rm -rf "${src:?}/$name"
  mkdir -p "$src"
  dpkg-source --no-check --no-copy -x "$tmp"/"$name"_*.dsc "$src/$name" >/dev/null
  dpkg-parsechangelog -l "$src/$name/debian/changelog" -S Version > "$src/$name/.version"
  rm -rf "$tmp"
  touch "$src/$name/.unpacked"
}

check_versions() {
  local v
  v=$(cat "$src/libbpf/.version")
  if ! dpkg --compare-versions "$v" ge "$min_libbpf"; then
    echo "static-deps: this distribution's libbpf source is $v; tapwire needs $min_libbpf or later (Debian 12, Ubuntu 23.04 and later)" >&2
    return 1
  fi
}

# A fresh copy of a source tree to build in (the unpacked tree stays clean for the next prefix).
work_copy() {
  rm -rf "${work:?}/$1"
  cp -a "$src/$1" "$work/$1"
  cd "$work/$1"
}

build_zlib() {
  work_copy zlib
  env ${target:+CHOST="$target"} CFLAGS="$cflags" ./configure --static --prefix="$prefix"
  make -j"$jobs" libz.a
  make install
}

# Only libelf from elfutils: it needs nothing but libc and zlib.
build_elfutils() {
  work_copy elfutils
  CFLAGS="$cflags" CPPFLAGS="-I$prefix/include" LDFLAGS="-L$prefix/lib" ./configure "${host[@]}" \
    --disable-debuginfod --disable-libdebuginfod --disable-nls --without-bzlib \
    --without-lzma --without-zstd --disable-symbol-versioning
  make -j"$jobs" -C lib
  make -j"$jobs" -C libelf libelf_pic.a
  install -D -m644 libelf/libelf_pic.a "$prefix/lib/libelf.a"
  install -m644 libelf/libelf.h libelf/gelf.h libelf/nlist.h "$prefix/include/"
}

# Only what pcap_open_dead, pcap_compile and bpf_filter need: no capture modules.
build_libpcap() {
  work_copy libpcap
  ac_cv_netfilter_can_compile=no CFLAGS="$cflags" ./configure "${host[@]}" --prefix="$prefix" \
    --disable-shared --with-pcap=null --disable-usb --disable-netmap --disable-bluetooth \
    --disable-dbus --disable-rdma --disable-remote --without-libnl --without-dag \
    --without-septel --without-snf --without-turbocap --without-dpdk
  make -j"$jobs" libpcap.a
  make install
  # tapwire's own reach into libpcap's private pcap_t, built against this build's
  # config.h and archived with it (native/filter/pcap_linux.c says why).
  # shellcheck disable=SC2086 # two flags
  "${CC:-cc}" $cflags -I. -c "$root/native/filter/pcap_linux.c" -o tapwire_pcap_linux.o
  "${AR:-ar}" rs "$prefix/lib/libpcap.a" tapwire_pcap_linux.o
}

# What else a library's build takes in from this repository: a change rebuilds it.
recipe() {
  [ "$1" = libpcap ] && printf -- '-%s' "$(sha1sum "$root/native/filter/pcap_linux.c" | cut -c1-12)"
  return 0
}

build_libbpf() {
  work_copy libbpf
  mkdir -p "$work/libbpf-obj"
  make -C src -j"$jobs" BUILD_STATIC_ONLY=1 OBJDIR="$work/libbpf-obj" \
    CFLAGS="$cflags -fvisibility=hidden -I$prefix/include" \
    DESTDIR="$prefix" PREFIX= LIBDIR=/lib INCLUDEDIR=/include UAPIDIR=/include \
    install install_uapi_headers
}

for name in "${libraries[@]}"; do fetch "$name"; done
check_versions
[ "${1:-}" = fetch ] && exit 0

target=${TAPWIRE_TARGET:-}
host=()
if [ -n "$target" ]; then
  export CC=$target-gcc AR=$target-ar RANLIB=$target-ranlib
  host=(--host="$target")
fi
. /etc/os-release
prefix=$deps/static/${ID:-linux}-${VERSION_ID:-unknown}-${target:-$(uname -m)}
cflags="-fPIC -O2"
jobs=$(nproc)
mkdir -p "$prefix/include" "$prefix/lib"
for name in "${libraries[@]}"; do
  stamp="$prefix/.built-$name-$(cat "$src/$name/.version")$(recipe "$name")"
  [ -f "$stamp" ] && continue
  work=$(mktemp -d)
  log="$prefix/$name.log"
  if ! (build_"$name") >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "static-deps: building $name failed; the whole log is $log" >&2
    rm -rf "$work"
    exit 1
  fi
  rm -rf "$work"
  touch "$stamp"
done
echo "$prefix"
