#!/usr/bin/env bash
# The package as npm users get it, proven where it is hardest to run: builds the
# prebuild, packs, installs the tarball into empty projects, then runs the installed
# package inside a slim root that holds only `node` and the C/C++ runtime libraries of
# Debian 11 (no libpcap, libelf, zlib, compiler or shell): the probe, live loopback
# captures of datagrams it sends itself (both backends, every one counted), filter
# compilation and the replay of the file it captured. Then, for each Node release line
# named on the command line, the same tarball installed and run on the host by that
# line's official binary (scripts/package-check/node.sh): load, probe, a filtered live
# capture on each backend, and the TLS plaintext and secrets of that node's own https
# client. Last, the same tarball on Debian's arm64 kernel booted in qemu (arm64.sh).
#   check.sh [LINE...]    e.g. check.sh 22 24 26
# One PASS/FAIL line per check (prefixed "node VERSION:" for a Node line's, "arm64:" for
# the arm64 machine's); exits 1 on any failure. Needs root (chroot, mounts, packet capture).
set -uo pipefail
lines=("$@")
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/scripts/package-check"
cd "$root" || exit 1
. scripts/lib/report.sh
. scripts/lib/mounts.sh
. scripts/package-check/judge.sh
work="$root/deps/package-check"
slim="$work/root"
count=50
started=$SECONDS

cleanup() {
  unmount_all || fail "unmounting: something stays mounted below $work"
  remove_root "$slim" || fail "removing $slim"
}
trap cleanup EXIT
finish() {
  trap - EXIT
  cleanup
  echo "package check: $failures failed, $((SECONDS - started)) s"
  [ "$failures" -eq 0 ] && exit 0 || exit 1
}
# in_slim ARGS...: node with ARGS inside the slim root, with an empty environment.
chroot=$(command -v chroot)
in_slim() { env -i PATH=/usr/bin HOME=/tmp "$chroot" "$slim" /usr/bin/node "$@"; }

remove_root "$slim" || finish
rm -rf "$work" && mkdir -p "$work"

# 1. The prebuilds, from these sources, in the Debian 11 root: linux-x64, and linux-arm64 cross-built.
for arch in x64 arm64; do
  if npm run prebuild -- "$arch" >"$work/prebuild-$arch.log" 2>&1; then
    pass "npm run prebuild -- $arch"
  else
    fail "npm run prebuild -- $arch (log: $work/prebuild-$arch.log):"; tail -n 20 "$work/prebuild-$arch.log"; finish
  fi
done
old=$(bash scripts/bullseye-root.sh)

# 2. The tarball: what it holds and what it leaves out.
if ! npm pack --json --pack-destination "$work" >"$work/pack.json" 2>"$work/pack.log"; then
  fail "npm pack (log: $work/pack.log)"; finish
fi
tarball="$work/$(node -p "require('$work/pack.json')[0].filename")"
node -e '
  const [p] = require(process.argv[1]);
  const files = new Set(p.files.map((f) => f.path));
  const need = ["prebuilds/linux-x64/tapwire.glibc.node", "prebuilds/linux-arm64/tapwire.glibc.node", "dist/index.js", "dist/index.d.ts", "esm/index.mjs",
    "esm/index.d.mts", "bin/tapwire.js", "binding.gyp", "native/addon.cc", "native/ebpf/bpf/capture.bpf.c",
    "scripts/static-deps.sh", "scripts/bpf-skeleton.sh", "scripts/build-requirements.sh", "LICENSE", "README.md", "CHANGELOG.md"];
  const absent = need.filter((f) => !files.has(f));
  const extra = [...files].filter((f) => /^(test|bench|examples|deps|lib|build)\/|fixtures|\.map$|\.tgz$/.test(f));
  const size = `${(p.size / 1e6).toFixed(2)} MB packed, ${(p.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${p.entryCount} files`;
  if (absent.length || extra.length) { console.log(`FAIL: npm pack: ${size}; missing ${absent.join(" ") || "nothing"}; should not hold ${extra.join(" ") || "anything else"}`); process.exit(1); }
  console.log(`PASS: npm pack: ${size}: prebuilds (x64, arm64), dist, types, both entry points, CLI, source build; no tests, benches, fixtures`);
' "$work/pack.json" || failures=$((failures + 1))

# 3. Installs into empty projects: without scripts, and with them (the prebuild, no compiler run).
install_into() {
  local dir=$1; shift
  mkdir -p "$dir" && echo '{ "private": true }' > "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --foreground-scripts "$@" "$tarball") >"$dir.log" 2>&1
}
if install_into "$work/bare" --ignore-scripts; then
  pass "npm install --ignore-scripts of the tarball into an empty project"
else
  fail "npm install --ignore-scripts (log: $work/bare.log)"; finish
fi
if install_into "$work/normal"; then
  if [ -e "$work/normal/node_modules/tapwire/build" ] || grep -q 'gyp info' "$work/normal.log"; then
    fail "npm install compiled instead of using the prebuild (log: $work/normal.log)"
  else
    pass "npm install runs the install script and uses the prebuild (no build/, no node-gyp)"
  fi
else
  fail "npm install (log: $work/normal.log)"
fi
if (cd "$work/normal" && node -e "require('tapwire').probe().then((r) => process.exit(r.features.bpf.ok ? 0 : 1))" &&
    node --input-type=module -e "import { probe, openCapturer } from 'tapwire'; if (typeof probe !== 'function' || typeof openCapturer !== 'function') process.exit(1)"); then
  pass "require('tapwire') and import 'tapwire' load the prebuild"
else
  fail "loading the installed package (CommonJS or ES module)"
fi

# The README's npm path, as written: npx tapwire probe, npx tapwire capture.
if (cd "$work/normal" && npx tapwire probe) >"$work/npx-probe.log" 2>&1 && grep -q "backend 'auto' chooses" "$work/npx-probe.log"; then
  pass "npx tapwire probe"
else
  fail "npx tapwire probe (log: $work/npx-probe.log)"
fi
npx_port=$((40000 + RANDOM % 20000))
(cd "$work/normal" && exec npx tapwire capture -i lo -c 4 "udp port $npx_port") >"$work/npx-capture.out" 2>"$work/npx-capture.err" &
capture=$!
for _ in $(seq 50); do
  kill -0 "$capture" 2>/dev/null || break
  echo tapwire >/dev/udp/127.0.0.1/"$npx_port"
  sleep 0.2
done
if wait "$capture" && [ "$(grep -c " > 127.0.0.1.$npx_port: UDP" "$work/npx-capture.out")" -eq 4 ]; then
  pass "npx tapwire capture -i lo -c 4: four packets, each a line"
else
  kill "$capture" 2>/dev/null
  fail "npx tapwire capture: $(cat "$work/npx-capture.out" "$work/npx-capture.err")"
fi

# A source build from the tarball alone (the sources and libraries fetched and built for
# this checkout are reused through TAPWIRE_DEPS, so this costs only the compile).
if TAPWIRE_DEPS="$root/deps" install_into "$work/source" --build-from-source &&
   [ -f "$work/source/node_modules/tapwire/build/Release/tapwire.node" ] &&
   (cd "$work/source" && node -e "require('tapwire').probe().then((r) => process.exit(r.features.bpf.ok ? 0 : 1))"); then
  pass "npm install --build-from-source compiles the addon from the tarball and loads it"
else
  fail "npm install --build-from-source (log: $work/source.log)"
fi

# ... and on a machine without clang and bpftool, the install names them instead of failing in the compiler.
nobpf="$work/path-without-clang"
mkdir -p "$nobpf"
for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  for cmd in "$dir"/*; do
    case $(basename "$cmd") in clang* | bpftool) ;; *) [ -e "$nobpf/$(basename "$cmd")" ] || ln -s "$cmd" "$nobpf/" ;; esac
  done
done
if PATH="$nobpf" TAPWIRE_DEPS="$root/deps" install_into "$work/missing" --build-from-source; then
  fail "npm install --build-from-source without clang succeeded?"
elif grep -q 'missing system packages: clang bpftool' "$work/missing.log" && grep -q 'apt-get install clang bpftool' "$work/missing.log" &&
     ! grep -q 'gyp info' "$work/missing.log"; then
  pass "npm install --build-from-source without clang and bpftool names them and the apt-get line, before node-gyp runs"
else
  fail "npm install --build-from-source without clang: no clear message (log: $work/missing.log)"
fi

# ... and where no prebuild fits (musl: LIBC=musl makes node-gyp-build pass over the glibc
# prebuild as it does on Alpine), the install stops before any build, with one sentence.
if LIBC=musl install_into "$work/musl"; then
  fail "npm install with LIBC=musl succeeded, though no prebuild fits musl"
elif grep -q "tapwire does not run on musl libc (Alpine Linux): the package's prebuilt addons are for linux-arm64 (glibc) and linux-x64 (glibc)" "$work/musl.log" &&
     ! grep -q -e 'No native build was found' -e 'gyp info' -e 'missing system packages' "$work/musl.log"; then
  pass "npm install where no prebuild fits (musl, as LIBC=musl): stops before any build, saying musl is not supported and what to use"
else
  fail "npm install with LIBC=musl: no clear sentence (log: $work/musl.log)"
fi

# 4. The slim root: node, exactly the libraries it needs as Debian 11 resolves them, the project.
mkdir -p "$slim/usr/bin" "$slim/tmp"
bind_into "$old" "$(readlink -f "$(command -v node)")" ro
cp "$(readlink -f "$(command -v node)")" "$slim/usr/bin/node"
libraries=$(chroot "$old" ldd /usr/bin/node | grep -Eo "/[^ ]+")
for lib in $libraries; do
  # Symbolic links resolved inside the old root: an absolute one would name the host's file.
  mkdir -p "$slim$(dirname "$lib")" && cp "$old$(chroot "$old" readlink -f "$lib")" "$slim$lib"
done
cp -a "$work/bare" "$slim/app"
cp "$here/loopback.js" "$slim/app/"
extra=$(find "$slim" -xdev \( -name 'libpcap*' -o -name 'libelf*' -o -name 'libz.so*' -o -name 'libbpf*' -o -name 'gcc' -o -name 'cc' -o -name 'sh' -o -name 'bash' \) -not -path "$slim/app/*" | sed "s|^$slim||")
if [ -z "$extra" ]; then
  pass "slim root: /usr/bin/node and $(wc -w <<<"$libraries") libraries from Debian 11 ($(xargs -n1 basename <<<"$libraries" | paste -sd ' ')), no capture library, compiler or shell"
else
  fail "slim root holds more than node and its runtime: $extra"
fi
mount_into "$slim"
tapwire=/app/node_modules/tapwire/bin/tapwire.js

# 5. Inside it: the probe, live captures, filters, replay.
if in_slim "$tapwire" probe --json >"$work/probe.json" 2>"$work/probe.err"; then
  probe_ok "" "$work/probe.json"
else
  fail "tapwire probe exited non-zero: $(cat "$work/probe.err")"
fi
declare -A port
for backend in ebpf raw-socket; do
  if result=$(in_slim /app/loopback.js "$backend" "$count" "/tmp/$backend.pcapng" 2>&1); then
    port[$backend]=$(node -p "JSON.parse(process.argv[1]).port" "$(tail -n1 <<<"$result")")
    capture_ok "" "$count" "$(tail -n1 <<<"$result")"
  else
    fail "live capture on lo with $backend: $result"
  fi
done
# The eBPF capture's file, through libpcap's compiler and bpf_filter() in the slim root.
p=${port[ebpf]:-1}
replayed=$(in_slim "$tapwire" capture -r /tmp/ebpf.pcapng -f "udp dst port $p" 2>"$work/replay.err" | wc -l)
if [ "$replayed" -eq "$count" ] && grep -q "^$count packets captured" "$work/replay.err"; then
  pass "tapwire capture -r: replayed the eBPF capture through a compiled filter: $replayed packets"
else
  fail "tapwire capture -r: $replayed lines, expected $count: $(cat "$work/replay.err")"
fi
none=$(in_slim "$tapwire" capture -r /tmp/ebpf.pcapng -f "udp dst port $((p == 65535 ? 1 : p + 1))" 2>/dev/null | wc -l)
bad=$(in_slim "$tapwire" capture -r /tmp/ebpf.pcapng -f 'udp port nonsense' 2>&1 >/dev/null; echo "exit $?")
if [ "$none" -eq 0 ] && grep -q 'ERR_BAD_FILTER' <<<"$bad" && grep -q 'exit 2' <<<"$bad"; then
  pass "filters: another port matches nothing; a bad expression is ERR_BAD_FILTER (exit 2)"
else
  fail "filters: another port matched $none packets; bad expression gave: $bad"
fi

# Alpine as node-gyp-build knows it (/etc/alpine-release) in the slim root, which has no
# shell, compiler or apt: the CLI says in one line that musl is not supported.
mkdir -p "$slim/etc" && touch "$slim/etc/alpine-release"
alpine=$(in_slim "$tapwire" probe 2>&1; echo "exit $?")
rm -f "$slim/etc/alpine-release"
if [ "$(wc -l <<<"$alpine")" -eq 2 ] && grep -q '^tapwire: ERR_UNSUPPORTED_PLATFORM: tapwire does not run on musl libc (Alpine Linux)' <<<"$alpine" &&
   grep -qx 'exit 1' <<<"$alpine"; then
  pass "on Alpine (/etc/alpine-release in the slim root): tapwire probe exits 1 with one line, ERR_UNSUPPORTED_PLATFORM"
else
  fail "on Alpine (/etc/alpine-release in the slim root): $alpine"
fi

# 6. The installed binaries themselves.
for arch in x64 arm64; do
  bash scripts/check-binary.sh "$work/bare/node_modules/tapwire/prebuilds/linux-$arch/tapwire.glibc.node" "$old" || failures=$((failures + 1))
done

# 7. Each Node line users run, with its official binary: npm itself runs on it, so the
# install script (node-gyp-build choosing the prebuild) does too.
on_node() { PATH="$(dirname "$node"):$PATH" "$@"; }
for line in "${lines[@]}"; do
  if ! node=$(scripts/package-check/node.sh "$line" 2>"$work/node-$line.err"); then
    fail "node $line: no official binary: $(cat "$work/node-$line.err")"; continue
  fi
  version=$("$node" -p 'process.versions.node')
  label="node $version: "
  project="$work/node-$version"
  if on_node install_into "$project" && [ ! -e "$project/node_modules/tapwire/build" ] && ! grep -q 'gyp info' "$project.log"; then
    pass "${label}npm install of the tarball into an empty project uses the prebuild"
  else
    fail "${label}npm install (log: $project.log)"; continue
  fi
  cp "$here/loopback.js" "$here/tls.js" "$project/"
  if (cd "$project" && on_node node -e "require('tapwire'); if (process.version !== 'v$version') process.exit(1)" &&
      on_node node --input-type=module -e "import { probe, openCapturer } from 'tapwire'; if (typeof probe !== 'function' || typeof openCapturer !== 'function') process.exit(1)"); then
    pass "${label}require('tapwire') and import 'tapwire' load the prebuild"
  else
    fail "${label}loading the installed package (CommonJS or ES module)"
  fi
  if (cd "$project" && on_node node node_modules/tapwire/bin/tapwire.js probe --json) >"$project/probe.json" 2>"$project/probe.err"; then
    probe_ok "$label" "$project/probe.json"
  else
    fail "${label}tapwire probe exited non-zero: $(cat "$project/probe.err")"
  fi
  for backend in ebpf raw-socket; do
    if result=$(cd "$project" && on_node node loopback.js "$backend" "$count" "$project/$backend.pcapng" 2>&1); then
      capture_ok "$label" "$count" "$(tail -n1 <<<"$result")"
    else
      fail "${label}live capture on lo with $backend: $result"
    fi
  done
  if result=$(cd "$project" && on_node node tls.js 2>&1); then
    tls_ok "$label" "$(readlink -f "$node")" secrets "$(tail -n1 <<<"$result")"
  else
    fail "${label}TLS capture of its own https client: $result"
  fi
done

# 8. An arm64 machine: Debian's arm64 kernel in qemu-system-aarch64, over an arm64 userland
# with the official arm64 Node, the tarball installed there (scripts/package-check/arm64.sh).
while IFS= read -r result; do
  echo "$result"
  [[ $result == FAIL:* ]] && failures=$((failures + 1))
done < <(bash "$here/arm64.sh" "$tarball" 2>&1 | grep -E '^(PASS|FAIL):')
finish
