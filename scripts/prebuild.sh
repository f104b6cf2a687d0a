#!/usr/bin/env bash
# npm run prebuild [-- arm64]: prebuilds/linux-x64/tapwire.glibc.node (or linux-arm64,
# cross-compiled), the addon npm users load with no compiler. Compiled in a Debian 11 root (glibc 2.31, GCC 10) so it needs no newer
# glibc or libstdc++ than Node 20 itself, with every C library linked in statically.
# The BPF programs are compiled on this host (the old root has no clang or bpftool new
# enough) into skeleton headers the build includes. Needs root (chroot, mounts).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib/mounts.sh
trap unmount_all EXIT

arch=${1:-x64}
case $arch in
  x64) target= ;;
  arm64) target=aarch64-linux-gnu ;;
  *) echo "prebuild: no recipe for linux-$arch (x64, arm64)" >&2; exit 1 ;;
esac
work=$root/deps/prebuild/$arch
nodedir=${npm_config_nodedir:-/usr}
# npm gives its scripts the node-gyp it bundles; run outside npm, find npm's own.
node_gyp=${npm_config_node_gyp:-$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js}
node_gyp=$(readlink -f "$node_gyp")
npm_dir=${node_gyp%/node_modules/node-gyp/bin/node-gyp.js}
[ -f "$nodedir/include/node/node_api.h" ] || { echo "prebuild: no Node headers in $nodedir/include/node (set npm_config_nodedir)" >&2; exit 1; }
[ -f "$node_gyp" ] || { echo "prebuild: node-gyp not found at $node_gyp" >&2; exit 1; }
if [ -n "$target" ] && { [ ! -d "/usr/$target/include/asm" ] || ! command -v qemu-aarch64-static >/dev/null; }; then
  echo "prebuild: linux-$arch needs its kernel headers (for the BPF programs) and qemu-user (to check the result):" >&2
  echo "  apt-get install linux-libc-dev-arm64-cross qemu-user-static" >&2
  exit 1
fi

# Sources (fetched here with apt) and this host's libraries, whose headers the BPF
# programs use: the same libbpf source as the old root builds.
host_deps=$(bash scripts/static-deps.sh)
rm -rf "$work/skeletons" "$work/tree"
mkdir -p "$work/skeletons" "$work/tree"
for program in native/*/bpf/*.bpf.c; do
  TAPWIRE_TARGET=$target bash scripts/bpf-skeleton.sh "$program" "$work/skeletons/$(basename "$program" .bpf.c).skel.h" "$host_deps"
done
# A clean tree of what a source build uses, so the build here leaves build/ alone.
cp -a binding.gyp package.json native scripts "$work/tree/"
# ... and the layouts the build checks the native records against (lib/ or dist/).
read -ra layouts <<<"$(node scripts/layout-header.js --inputs)"
cp --parents "${layouts[@]}" "$work/tree/"

old=$(bash scripts/bullseye-root.sh ${target:+"g++-$target"})
mount_into "$old"
bind_into "$old" "$root"
bind_into "$old" "$(readlink -f "$(command -v node)")" ro
bind_into "$old" "$nodedir/include/node" ro
bind_into "$old" "$npm_dir" ro
node=$(readlink -f "$(command -v node)")
cross=()
[ -n "$target" ] && cross=(TAPWIRE_TARGET="$target" CC="$target-gcc" CXX="$target-g++" LINK="$target-g++" AR="$target-ar" PREBUILD_STRIP_BIN="$target-strip")
chroot "$old" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  TAPWIRE_DEPS="$root/deps" npm_config_nodedir="$nodedir" npm_config_bpf_skeletons="$work/skeletons" \
  PREBUILD_NODE_GYP="$node_gyp" "${cross[@]}" \
  "$node" "$root/node_modules/prebuildify/bin.js" --napi --strip --tag-libc --arch "$arch" --cwd "$work/tree" --out "$root"

unmount_all
bash scripts/check-binary.sh "$root/prebuilds/linux-$arch/tapwire.glibc.node" "$old"
