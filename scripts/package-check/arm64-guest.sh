#!/bin/bash
# Run by arm64.sh inside Debian's arm64 kernel (qemu-system-aarch64, over arm64-root.sh's
# userland), from /app, where the packed tarball is installed: the load of the linux-arm64
# prebuild, the probe, live captures on each backend and from the root cgroup with
# attribution, the files they wrote read by tshark, and the TLS plaintext of node's and
# curl's https clients. One "PASS: arm64: ..." or "FAIL: arm64: ..." line per check.
set -uo pipefail
cd /app || exit 1
# shellcheck source=scripts/lib/report.sh
. ./report.sh
# shellcheck source=scripts/package-check/judge.sh
. ./judge.sh
label="arm64: "
count=50
tapwire=node_modules/tapwire/bin/tapwire.js
machine="Node $(node -p process.version) on Linux $(uname -r) ($(uname -m))"

# npm's install script, as the guest's npm would run it: node-gyp-build takes the
# prebuild that loads, and runs the build command only if none does.
built=$(cd node_modules/tapwire && PATH="/app/node_modules/.bin:$PATH" node ../node-gyp-build/bin.js "echo built from source" 2>&1)
if [ -z "$built" ]; then
  pass "${label}the install script (node-gyp-build) takes the prebuild: nothing built"
else
  fail "${label}the install script (node-gyp-build) did not take the prebuild: $built"
fi

if node -e '
  require("tapwire").probe().then(() => {
    const maps = require("fs").readFileSync("/proc/self/maps", "utf8");
    process.exit(maps.includes("/node_modules/tapwire/prebuilds/linux-arm64/tapwire.glibc.node") ? 0 : 1);
  });'; then
  pass "${label}require('tapwire') loads prebuilds/linux-arm64 under $machine"
else
  fail "${label}require('tapwire') under $machine did not load prebuilds/linux-arm64"
fi

# Debian 12's 6.1 has no tcx (Linux 6.6): interface captures attach by socket, and
# attribution is for cgroup captures.
if node "$tapwire" probe --json >/tmp/probe.json 2>/tmp/probe.err; then
  probe_ok "$label" /tmp/probe.json tcx tcxCapture tcxAttribution
else
  fail "${label}tapwire probe exited non-zero: $(cat /tmp/probe.err)"
fi

# read_ok NAME JSON EXPECTED: whether tshark counts EXPECTED datagrams to the port of
# loopback.js's JSON in /tmp/NAME.pcapng.
read_ok() {
  local file=/tmp/$1.pcapng port seen
  port=$(node -p "JSON.parse(process.argv[1]).port" "$2")
  seen=$(tshark -r "$file" -Y "udp.dstport == $port" 2>/dev/null | wc -l)
  if [ "$seen" -eq "$3" ]; then
    pass "${label}tshark reads $file: $seen datagrams to port $port"
  else
    fail "${label}tshark reads $seen datagrams to port $port in $file, expected $3"
  fi
}
for run in ebpf raw-socket ebpf:cgroup; do
  backend=${run%%:*} name=${run/:/-}
  where=${run#"$backend"}
  if result=$(node loopback.js "$backend" "$count" "/tmp/$name.pcapng" ${where:+"${where#:}"} 2>&1); then
    capture_ok "$label" "$count" "$(tail -n1 <<<"$result")"
    [ "$run" = ebpf:cgroup ] && expect=$((2 * count)) || expect=$count
    read_ok "$name" "$(tail -n1 <<<"$result")" "$expect"
  else
    fail "${label}live capture with $run: $result"
  fi
done

# libssl's key log function is found in its arm64 code, and curl's secrets name its
# ClientHello; node's binary inlines it, which only x86-64 code is decoded for: it says why.
node=$(readlink -f "$(command -v node)")
for client in "node $node why" "curl /usr/lib/aarch64-linux-gnu/libssl.so.3 secrets"; do
  read -r fetcher library keys <<<"$client"
  if result=$(node tls.js "$fetcher" 2>&1); then
    tls_ok "$label" "$library" "$keys" "$(tail -n1 <<<"$result")"
  else
    fail "${label}TLS capture of the $fetcher https client: $result"
  fi
done
[ "$failures" -eq 0 ]
