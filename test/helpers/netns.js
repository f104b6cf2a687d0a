'use strict';
// A test link: a network namespace ("peer") joined to this one by a veth pair. The
// capture side stays in our namespace so the test process can open it directly.
// Addresses come from 198.18.0.0/15 (benchmarking range); neighbours are static and
// IPv6 is off, so exactly the frames a test sends cross the link.
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const dgram = require('node:dgram');
const fs = require('node:fs');

function ip(...args) {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function mac(name, ns) {
  const out = ns ? ip('-n', ns, '-j', 'link', 'show', name) : ip('-j', 'link', 'show', name);
  return JSON.parse(out)[0].address;
}

let counter = 0;
// Links not yet removed. A test that forgets one (or a run cut short) must not leave it
// on the machine: the exit hook removes what is left and says which, failing the run.
const live = new Set();
process.on('exit', () => {
  for (const link of live) {
    process.stderr.write(`test link ${link.ns} (${link.outer}) was still there at exit: removed\n`);
    try {
      removeLink(link);
    } catch (err) {
      process.stderr.write(`${err.message}\n`);
    }
    process.exitCode = 1;
  }
});

function createLink() {
  const id = `${process.pid.toString(36)}${(counter++).toString(36)}${crypto.randomBytes(1).toString('hex')}`;
  const ns = `twt-${id}`;
  const outer = `twt${id}o`;
  const inner = `twt${id}i`;
  const subnet = 1 + (crypto.randomBytes(2).readUInt16BE(0) % 16000);
  const third = subnet >> 6;
  const fourth = (subnet & 63) * 4;
  const outerAddr = `198.18.${third}.${fourth + 2}`;
  const innerAddr = `198.18.${third}.${fourth + 1}`;
  const link = { ns, outer, inner, outerAddr, innerAddr };
  ip('netns', 'add', ns);
  live.add(link);
  try {
    ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner, 'netns', ns);
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${outer}/disable_ipv6`, '1'); // (sysctl reads the dot in the name as a separator)
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${inner}.disable_ipv6=1`]);
    ip('addr', 'add', `${outerAddr}/30`, 'dev', outer);
    ip('-n', ns, 'addr', 'add', `${innerAddr}/30`, 'dev', inner);
    ip('link', 'set', outer, 'up');
    ip('-n', ns, 'link', 'set', inner, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    link.outerMac = mac(outer);
    link.innerMac = mac(inner, ns);
    ip('neigh', 'replace', innerAddr, 'lladdr', link.innerMac, 'dev', outer, 'nud', 'permanent');
    ip('-n', ns, 'neigh', 'replace', outerAddr, 'lladdr', link.outerMac, 'dev', inner, 'nud', 'permanent');
    link.outerIndex = Number(fs.readFileSync(`/sys/class/net/${outer}/ifindex`, 'utf8'));
  } catch (err) {
    removeLink(link);
    throw err;
  }
  return link;
}

function removeLink(link) {
  live.delete(link);
  // Deleting the namespace deletes its veth end, which deletes the pair; the outer end
  // goes too in case the namespace could not. A namespace still listed after `ip netns
  // del` is tried again a few times, then reported: never left behind silently.
  let failure;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      ip('netns', 'del', link.ns);
      failure = undefined;
    } catch (err) {
      failure = err;
    }
    if (!fs.existsSync(`/run/netns/${link.ns}`)) break;
    failure ??= new Error('still listed after ip netns del');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
  try {
    ip('link', 'del', link.outer);
  } catch {}
  if (failure && fs.existsSync(`/run/netns/${link.ns}`)) {
    throw new Error(`could not remove test namespace ${link.ns}: ${String(failure.stderr || failure.message).trim()}`);
  }
}

/** Runs a command inside the peer namespace; resolves with its stdout. */
function inPeer(link, cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', link.ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

// Sends `count` UDP datagrams of `size` payload bytes from the peer to `to:port`
// (each one frame: payloads stay under the MTU), byte i of each payload = seq & 255.
const SENDER = `
import socket, sys
to, port, count, size, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
s.bind(('0.0.0.0', sport))
sent = 0
for i in range(count):
    payload = bytes([i & 255]) * size
    while True:
        try:
            s.sendto(payload, (to, port)); sent += 1; break
        except BlockingIOError:
            pass
        except OSError as e:
            if e.errno != 105: raise
print(sent)
`;

/** Sends UDP from the peer namespace to our end of the link (or `to`); resolves with frames sent. */
async function sendFromPeer(link, { port, count, size = 64, sourcePort = 40000, to = link.outerAddr }) {
  const out = await inPeer(link, 'python3', ['-c', SENDER, to, String(port), String(count), String(size), String(sourcePort)]);
  return Number(out.trim());
}

/** Sends UDP from our namespace to the peer (or `to`): outgoing on the capture side. */
async function sendToPeer(link, { port, count, size = 64, sourcePort = 40001, to = link.innerAddr }) {
  const out = execFileSync('python3', ['-c', SENDER, to, String(port), String(count), String(size), String(sourcePort)], {
    encoding: 'utf8',
  });
  return Number(out.trim());
}

/**
 * An 802.1Q VLAN over the link: a VLAN device on each end (ours named `.outer`), with
 * the link's /30 moved to 198.19.0.0/16, static neighbours and IPv6 off, so again only
 * what a test sends crosses it. They go with the link. Throws an error whose
 * `unsupported` says why when this kernel has no VLAN devices (no 8021q).
 */
function addVlan(link, id) {
  const outer = `${link.outer}.v`;
  try {
    ip('link', 'add', 'link', link.outer, 'name', outer, 'type', 'vlan', 'id', String(id));
  } catch (err) {
    throw Object.assign(new Error(`no VLAN devices: ${String(err.stderr).trim()}`), {
      unsupported: `the kernel lacks 802.1Q VLAN devices (ip link add type vlan: ${String(err.stderr).trim()})`,
    });
  }
  const vlan = {
    id,
    outer,
    outerAddr: link.outerAddr.replace(/^198\.18\./, '198.19.'),
    innerAddr: link.innerAddr.replace(/^198\.18\./, '198.19.'),
  };
  ip('-n', link.ns, 'link', 'add', 'link', link.inner, 'name', 'v', 'type', 'vlan', 'id', String(id));
  fs.writeFileSync(`/proc/sys/net/ipv6/conf/${outer}/disable_ipv6`, '1'); // (sysctl reads the dot in the name as a separator)
  execFileSync('ip', ['netns', 'exec', link.ns, 'sysctl', '-qw', 'net.ipv6.conf.v.disable_ipv6=1']);
  ip('addr', 'add', `${vlan.outerAddr}/30`, 'dev', outer);
  ip('-n', link.ns, 'addr', 'add', `${vlan.innerAddr}/30`, 'dev', 'v');
  ip('link', 'set', outer, 'up');
  ip('-n', link.ns, 'link', 'set', 'v', 'up');
  ip('neigh', 'replace', vlan.innerAddr, 'lladdr', mac('v', link.ns), 'dev', outer, 'nud', 'permanent');
  ip('-n', link.ns, 'neigh', 'replace', vlan.outerAddr, 'lladdr', mac(outer), 'dev', 'v', 'nud', 'permanent');
  return vlan;
}

/**
 * A link whose local end has `port` bound (and read), so the peer's datagrams draw no
 * ICMP replies. `close()` removes both.
 */
async function createLinkWithSink(port) {
  const link = createLink();
  const sink = dgram.createSocket('udp4');
  try {
    await new Promise((resolve, reject) => {
      sink.once('error', reject);
      sink.bind(port, link.outerAddr, resolve);
    });
  } catch (err) {
    sink.close();
    removeLink(link);
    throw err;
  }
  link.close = () => {
    sink.close();
    removeLink(link);
  };
  return link;
}

module.exports = { createLink, createLinkWithSink, removeLink, inPeer, sendFromPeer, sendToPeer, addVlan };
