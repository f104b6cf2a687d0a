#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine (as root) to build tapwire from source and run
# its tests: the system packages, the npm dependencies, the addon and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ make python3 pkg-config   # node-gyp and the addon
  libpcap-dev                   # filter compilation (libpcap is linked dynamically)
  iproute2 tcpdump libcap2-bin  # tests: namespaces and veth, reference capture, capsh
  tshark                        # tests: a second reader of the capture files (with capinfos, editcap)
  bsdutils                      # tests: script(1), a terminal for the live counter
)
missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>&1 | grep -v '^ii ' || true)
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  # wireshark-common asks whether non-root users may capture; the answer does not matter here.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

command -v node >/dev/null || { echo "setup: Node.js 20 or later is required" >&2; exit 1; }
npm ci --no-audit --no-fund
npm run build
