#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine (as root) to build tapwire from source and run
# its tests: the system packages, deb-src entries for the source packages of the
# libraries linked in statically, the npm dependencies, the addon and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ make python3                         # node-gyp and the addon
  clang bpftool                            # BPF programs and their skeletons
  flex bison dpkg-dev bzip2 xz-utils       # the static libraries from source packages (scripts/static-deps.sh)
  debootstrap                              # the prebuild's and the package check's Debian 11 root
  linux-libc-dev-arm64-cross qemu-user-static  # the linux-arm64 prebuild: its BPF headers, its check under qemu-user
  qemu-system-arm                          # the package check: the arm64 prebuild on Debian's arm64 kernel
  libpcap-dev                              # the benchmark's peer, the npm cap package
  iproute2 tcpdump libcap2-bin             # tests: namespaces and veth, reference capture, capsh
  openssl curl libssl-dev                  # tests: TLS peers (s_server, s_client, curl, a client linking OpenSSL statically)
  gnutls-bin wget                          # tests: GnuTLS peers (gnutls-cli, wget)
  golang-go                                # tests: the Go TLS peer (test/helpers/go-tls)
  tshark                                   # tests: a second reader of the capture files (with capinfos, editcap)
  bsdutils                                 # tests: script(1), a terminal for the live counter
  clang-format                             # npm run format:check (the C++ and BPF C)
  shellcheck                               # npm run shellcheck (every shell script)
  valgrind                                 # memcheck: a capture on each backend under memcheck (scripts/memcheck.sh)
)
export DEBIAN_FRONTEND=noninteractive
missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>&1 | grep -v '^ii ' || true)
if [ -n "$missing" ]; then
  # wireshark-common asks whether non-root users may capture; the answer does not matter here.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
# memcheck's sanitizer and libFuzzer runtimes for this clang: a package of their own on
# Debian 12 (clang's Recommends, which --no-install-recommends leaves out), part of
# libclang-common elsewhere.
rt=libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev
if apt-cache show "$rt" >/dev/null 2>&1 && ! dpkg-query -W -f='${db:Status-Abbrev}' "$rt" 2>/dev/null | grep -q '^ii'; then
  apt-get install -y -qq --no-install-recommends "$rt" >/dev/null
fi

# zlib, libelf, libpcap and libbpf are linked statically from the distribution's own
# sources, which need deb-src entries beside the binary ones: added for the
# distribution's archives only (a third-party repository may publish no sources).
official='(deb\.debian\.org|security\.debian\.org|archive\.ubuntu\.com|security\.ubuntu\.com|ports\.ubuntu\.com)'
if [ -z "$(apt-cache showsrc libbpf 2>/dev/null)" ]; then
  for f in /etc/apt/sources.list.d/*.sources; do
    { [ -e "$f" ] && grep -Eq "^URIs:.*$official" "$f" && grep -Eq '^Types:.*\bdeb( |$)' "$f"; } || continue
    sed -E 's/^Types:.*/Types: deb-src/' "$f" > "/etc/apt/sources.list.d/tapwire-src-$(basename "$f")"
  done
  if [ -f /etc/apt/sources.list ]; then
    grep -E "^deb .*$official" /etc/apt/sources.list | sed 's/^deb /deb-src /' > /etc/apt/sources.list.d/tapwire-src.list || true
  fi
  apt-get update -qq
fi

command -v node >/dev/null || { echo "setup: Node.js 20 or later is required" >&2; exit 1; }
npm ci --no-audit --no-fund --ignore-scripts
npm rebuild cap >/dev/null   # the benchmark's peer (a devDependency with a native build)
npm run build:all
