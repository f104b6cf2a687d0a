#!/usr/bin/env bash
# npm run prebuild: prebuilds/linux-x64/tapwire.glibc.node, the addon npm users load with
# no compiler. Compiled in a Debian 11 root (glibc 2.31, GCC 10) so it needs no newer
# glibc or libstdc++ than Node 20 itself, with every C library linked in statically.
# The BPF programs are compiled on this host (the old root has no clang or bpftool new
# enough) into skeleton headers the build includes. Needs root (chroot, mounts).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib/mounts.sh
trap unmount_all EXIT

work=$root/deps/prebuild
nodedir=${npm_config_nodedir:-/usr}
# npm gives its scripts the node-gyp it bundles; run outside npm, find npm's own.
node_gyp=${npm_config_node_gyp:-$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js}
node_gyp=$(readlink -f "$node_gyp")
npm_dir=${node_gyp%/node_modules/node-gyp/bin/node-gyp.js}
[ -f "$nodedir/include/node/node_api.h" ] || { echo "prebuild: no Node headers in $nodedir/include/node (set npm_config_nodedir)" >&2; exit 1; }
[ -f "$node_gyp" ] || { echo "prebuild: node-gyp not found at $node_gyp" >&2; exit 1; }

# Sources (fetched here with apt) and this host's libraries, whose headers the BPF
# programs use: the same libbpf source as the old root builds.
host_deps=$(bash scripts/static-deps.sh)
rm -rf "$work/skeletons" "$work/tree"
mkdir -p "$work/skeletons" "$work/tree"
for program in native/*/bpf/*.bpf.c; do
  bash scripts/bpf-skeleton.sh "$program" "$work/skeletons/$(basename "$program" .bpf.c).skel.h" "$host_deps"
done
# A clean tree of what a source build uses, so the build here leaves build/ alone.
cp -a binding.gyp package.json native scripts "$work/tree/"

old=$(bash scripts/bullseye-root.sh)
mount_into "$old"
bind_into "$old" "$root"
bind_into "$old" "$(readlink -f "$(command -v node)")" ro
bind_into "$old" "$nodedir/include/node" ro
bind_into "$old" "$npm_dir" ro
node=$(readlink -f "$(command -v node)")
chroot "$old" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  TAPWIRE_DEPS="$root/deps" npm_config_nodedir="$nodedir" npm_config_bpf_skeletons="$work/skeletons" \
  PREBUILD_NODE_GYP="$node_gyp" \
  "$node" "$root/node_modules/prebuildify/bin.js" --napi --strip --tag-libc --cwd "$work/tree" --out "$root"

unmount_all
bash scripts/check-binary.sh "$root/prebuilds/linux-x64/tapwire.glibc.node" "$old"
