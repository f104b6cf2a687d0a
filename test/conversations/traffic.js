'use strict';
// Real traffic for the conversation tests, made once per suite: curl fetching from an
// HTTP server and UDP datagrams, over IPv4 and IPv6, on loopback and across a veth pair
// to a test namespace (and a VLAN over it, 802.1Q id 42, where the kernel has VLAN
// devices). tcpdump records it as Ethernet (loopback, the veth) and as Linux cooked v1
// and v2 (-i any); tapwire captures the loopback part live at the same time.
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { openCapturer } = require('../..');
const { captureWhile } = require('../helpers/capture');
const { createLink, removeLink } = require('../helpers/netns');
const { requirePrivileges } = require('../helpers/privileged');
const { startTcpdump, run } = require('../helpers/tools');
const { certificate, startServer, stop } = require('../helpers/tls-peers');
const { fromView } = require('./tshark');

const VLAN_ID = 42;
const REQUESTS = 3;
const BIG_BYTES = 300 * 1024;

function ip(...args) {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function curl(url, args = []) {
  const r = await run('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code}', ...args, url]);
  if (r.stdout !== '200') throw new Error(`curl ${url}: ${r.stdout} ${r.stderr}`);
}

function sendUdp(family, address, port, count) {
  const socket = dgram.createSocket(family);
  return new Promise((resolve, reject) => {
    let left = count;
    const next = () => {
      if (left-- === 0) {
        socket.close();
        return resolve();
      }
      socket.send(Buffer.from(`datagram ${left}`), port, address, (err) => (err ? reject(err) : next()));
    };
    next();
  });
}

/** An HTTP server in namespace `ns` on every address (both families) serving `dir`, until `stop()`. */
async function serverIn(ns, port, dir) {
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-m', 'http.server', String(port), '--bind', '::', '--directory', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // python prints "Serving HTTP" once bound; poll for the listening socket instead of parsing.
  for (let i = 0; i < 100; i++) {
    const r = await run('ip', ['netns', 'exec', ns, 'ss', '-Hltn', `sport = :${port}`]);
    if (r.stdout.trim()) return { stop: () => child.kill('SIGKILL') };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('the test HTTP server did not start');
}

/**
 * Registers before/after hooks on `suite` that make the traffic; returns a getter for
 * { files: { loopback, veth, sll, sll2 }, live (the loopback packets' views), vlan:
 * { id } or { reason }, ports, big (the bytes of a download from `peer`) }.
 */
function withTraffic(suite) {
  let state = null;
  const cleanups = [];
  suite.timeout(120000);

  suite.beforeAll(async function () {
    await requirePrivileges(this, ['tcpdump', 'tshark', 'curl', 'python3', 'ss']);
    const port = 20000 + crypto.randomInt(20000);
    const udpPort = port + 1;
    const link = createLink();
    cleanups.push(() => removeLink(link));
    // The veth pair carries both families (the link helper turns IPv6 off: on again here),
    // and a VLAN over it where the kernel has 802.1Q.
    const third = crypto.randomInt(256);
    const hex = third.toString(16);
    execFileSync('sysctl', ['-qw', `net.ipv6.conf.${link.outer}.disable_ipv6=0`]);
    execFileSync('ip', ['netns', 'exec', link.ns, 'sysctl', '-qw', `net.ipv6.conf.${link.inner}.disable_ipv6=0`]);
    ip('addr', 'add', `2001:db8:${hex}::2/64`, 'dev', link.outer, 'nodad');
    ip('-n', link.ns, 'addr', 'add', `2001:db8:${hex}::1/64`, 'dev', link.inner, 'nodad');
    const peers = [link.innerAddr, `2001:db8:${hex}::1`];
    let vlan = null;
    try {
      ip('link', 'add', 'link', link.outer, 'name', `${link.outer}.v`, 'type', 'vlan', 'id', String(VLAN_ID));
      vlan = { id: VLAN_ID };
    } catch (err) {
      vlan = { reason: `the kernel lacks 802.1Q VLAN devices (ip link add type vlan: ${String(err.stderr).trim()})` };
    }
    if (vlan.id) {
      ip('-n', link.ns, 'link', 'add', 'link', link.inner, 'name', 'v', 'type', 'vlan', 'id', String(VLAN_ID));
      ip('addr', 'add', `198.19.${third}.2/30`, 'dev', `${link.outer}.v`);
      ip('-n', link.ns, 'addr', 'add', `198.19.${third}.1/30`, 'dev', 'v');
      ip('addr', 'add', `2001:db8:${hex}:42::2/64`, 'dev', `${link.outer}.v`, 'nodad');
      ip('-n', link.ns, 'addr', 'add', `2001:db8:${hex}:42::1/64`, 'dev', 'v', 'nodad');
      ip('link', 'set', `${link.outer}.v`, 'up');
      ip('-n', link.ns, 'link', 'set', 'v', 'up');
      peers.push(`198.19.${third}.1`, `2001:db8:${hex}:42::1`);
    }
    // A download large enough for many segments (the peer sends one MSS per packet).
    ip('-n', link.ns, 'link', 'set', 'dev', link.inner, 'gso_max_size', '1500');
    const served = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-served-'));
    cleanups.push(() => fs.rmSync(served, { recursive: true, force: true }));
    const big = crypto.randomBytes(BIG_BYTES);
    fs.writeFileSync(path.join(served, 'big.bin'), big);
    const server = await serverIn(link.ns, port, served);
    cleanups.push(() => server.stop());

    const local = http.createServer((req, res) => res.end('hello\n'));
    await new Promise((resolve) => local.listen(port, '::', resolve));
    cleanups.push(() => local.close());
    const sink4 = dgram.createSocket('udp4');
    const sink6 = dgram.createSocket({ type: 'udp6', ipv6Only: true });
    await Promise.all([new Promise((r) => sink4.bind(udpPort, '127.0.0.1', r)), new Promise((r) => sink6.bind(udpPort, '::1', r))]);
    cleanups.push(
      () => sink4.close(),
      () => sink6.close(),
    );

    // TLS: openssl s_server, and curl asking for a name (SNI) with each ALPN, and for an address (no SNI).
    const tlsPort = port + 2;
    const cert = certificate();
    cleanups.push(() => fs.rmSync(cert.dir, { recursive: true, force: true }));
    const tlsServer = await startServer(
      'openssl',
      ['s_server', '-accept', `127.0.0.1:${tlsPort}`, '-cert', cert.cert, '-key', cert.key, '-www'],
      /ACCEPT/,
    );
    cleanups.push(() => stop(tlsServer));

    const loFilter = `port ${port} or port ${udpPort} or port ${tlsPort}`;
    const peerHosts = peers.map((a) => `host ${a}`).join(' or ');
    // The recordings are the reference every test compares with: one that tcpdump
    // dropped packets from (a busy machine) is recorded again, not compared with. On
    // `any`, tcpdump counts as dropped what arrived before its filter was set.
    for (let attempt = 1; ; attempt++) {
      const recorded = await record();
      const drops = Object.entries(recorded.summaries)
        .filter(([name]) => name === 'loopback' || name === 'veth')
        .map(([name, summary]) => [name, Number(/(\d+) packets? dropped by kernel/.exec(summary)?.[1] ?? NaN)])
        .filter(([, n]) => n !== 0);
      if (drops.length === 0) {
        state = recorded.state;
        break;
      }
      for (const f of Object.values(recorded.state.files)) fs.rmSync(path.dirname(f), { recursive: true, force: true });
      if (attempt === 3) throw new Error(`tcpdump dropped packets in 3 recordings: ${JSON.stringify(drops)}`);
    }

    async function record() {
      const dumps = {
        loopback: await startTcpdump('lo', loFilter, { keep: true }),
        veth: await startTcpdump(link.outer, '', { keep: true }),
        sll: await startTcpdump('any', peerHosts, { keep: true, args: ['-y', 'LINUX_SLL'] }),
        sll2: await startTcpdump('any', peerHosts, { keep: true, args: ['-y', 'LINUX_SLL2'] }),
      };
      const cap = await openCapturer({ interfaces: ['lo'], filter: loFilter });
      let stopped = null;
      try {
        const { packets } = await captureWhile(cap, async () => {
          for (let i = 0; i < REQUESTS; i++) {
            await curl(`http://127.0.0.1:${port}/`);
            await curl(`http://[::1]:${port}/`);
            for (const peer of peers) await curl(`http://${peer.includes(':') ? `[${peer}]` : peer}:${port}/`);
          }
          const name = `tls.test:${tlsPort}:127.0.0.1`;
          for (const alpn of ['--http1.1', '--http2']) await curl(`https://tls.test:${tlsPort}/`, ['-k', '--resolve', name, alpn]);
          await curl(`https://127.0.0.1:${tlsPort}/`, ['-k']);
          await curl(`http://${link.innerAddr}:${port}/big.bin`);
          await sendUdp('udp4', '127.0.0.1', udpPort, 3);
          await sendUdp('udp6', '::1', udpPort, 3);
          // Nothing listens there: the peer's port-unreachable errors are ICMP and ICMPv6.
          for (const peer of peers) await sendUdp(peer.includes(':') ? 'udp6' : 'udp4', peer, udpPort, 2);
          await sleep(300);
        });
        stopped = {};
        const summaries = {};
        for (const [name, dump] of Object.entries(dumps)) {
          const r = await dump.stop();
          stopped[name] = r.file;
          summaries[name] = r.summary;
        }
        const live = packets.map((p) => fromView(p.headers));
        return {
          summaries,
          state: { files: stopped, live, vlan, ports: { http: port, udp: udpPort, tls: tlsPort }, big, peer: link.innerAddr },
        };
      } finally {
        await cap.close();
        if (!stopped)
          for (const dump of Object.values(dumps))
            await dump.stop().then((r) => fs.rmSync(path.dirname(r.file), { recursive: true, force: true }));
      }
    }
    cleanups.push(() => Object.values(state.files).forEach((f) => fs.rmSync(path.dirname(f), { recursive: true, force: true })));
  });

  suite.afterAll(() => {
    for (const c of cleanups.reverse()) c();
  });

  return () => state;
}

module.exports = { withTraffic };
