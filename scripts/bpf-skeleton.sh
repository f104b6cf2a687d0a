#!/usr/bin/env bash
# native/ebpf/bpf/NAME.bpf.c → NAME.skel.h: compiled for the BPF target by clang and
# embedded in a libbpf skeleton by bpftool, so the addon carries its programs inside.
# Usage: bpf-skeleton.sh SOURCE.bpf.c OUT.skel.h LIBBPF_DIR
# TAPWIRE_TARGET (a GNU triplet) compiles for another machine's registers and uapi headers.
set -euo pipefail
src=$1 out=$2 libbpf=$3
name=$(basename "$src" .bpf.c)
obj="${out%.skel.h}.bpf.o"
triplet=${TAPWIRE_TARGET:-$(gcc -dumpmachine)}
case ${triplet%%-*} in
  x86_64) target_arch=x86 ;;
  aarch64) target_arch=arm64 ;;
  *) target_arch=${triplet%%-*} ;;
esac
# The kernel's asm/ headers: a multiarch directory, or a cross toolchain's.
for arch_include in "/usr/include/$triplet" "/usr/$triplet/include"; do
  [ -d "$arch_include/asm" ] && break
done
clang -O2 -g -target bpf -D__TARGET_ARCH_"$target_arch" -Wall -Werror -I"$libbpf/include" -I"$arch_include" \
  -c "$src" -o "$obj"
bpftool gen skeleton "$obj" name "$name" > "$out"
