'use strict';
// 802.1Q VLANs on a live link, against tcpdump on the same traffic. The kernel moves a
// frame's tag into metadata before any filter or capture sees it, received or sent;
// tcpdump (libpcap) puts it back into the frame, and compiles `vlan` to test that
// metadata (the kernel's BPF extensions), so `udp port N` matches tagged frames too.
// Every backend must do both: for each filter, the frames tcpdump wrote, byte for
// byte, with their lengths, in each direction; and a short snapshot cuts the frame
// with its tag back in, as tcpdump's does.
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const { spawn } = require('node:child_process');
const { openCapturer } = require('..');
const { requireVariant } = require('./helpers/privileged');
const { addVlan, createLinkWithSink, sendFromPeer, sendToPeer } = require('./helpers/netns');
const { startTcpdump } = require('./helpers/tools');
const { until } = require('./helpers/poll');

const PORT = 5401;
const VLAN_ID = 42;
const COUNT = 40; // frames of each kind: tagged in, tagged out, untagged in

const VARIANTS = [
  { backend: 'ebpf', attach: 'tcx' },
  { backend: 'ebpf', attach: 'socket' },
  { backend: 'raw-socket' },
  { backend: 'raw-socket', zeroCopy: true },
];

// Each filter, and how many of the frames sent it keeps.
const CASES = [
  { filter: `udp port ${PORT}`, expected: 3 * COUNT },
  { filter: 'vlan', expected: 2 * COUNT },
  { filter: `vlan ${VLAN_ID} and udp port ${PORT}`, expected: 2 * COUNT },
  { filter: `vlan ${VLAN_ID + 1}`, expected: 0 },
  // (`vlan` moves the offsets of what follows it, in tcpdump's too: `not vlan and udp port N` keeps nothing.)
  { filter: `udp port ${PORT} and not vlan`, expected: COUNT },
  { filter: `vlan and udp port ${PORT}`, expected: 2 * COUNT, snaplen: 50 },
];

for (const variant of VARIANTS) {
  const name = Object.entries(variant)
    .map(([k, v]) => (k === 'zeroCopy' ? 'zero-copy' : v))
    .join(', ');
  describe(`VLAN-tagged traffic, as tcpdump captures it (${name})`, function () {
    let link;
    let vlan;
    const sockets = [];
    let peerSink;

    before(async function () {
      await requireVariant(this, variant, ['python3', 'tcpdump', 'ip']);
      link = await createLinkWithSink(PORT);
      try {
        vlan = addVlan(link, VLAN_ID);
      } catch (err) {
        if (err.unsupported) this.skip(err.unsupported);
        throw err;
      }
      // Both ends read the port on the VLAN too, so no ICMP answers cross the link.
      const sink = dgram.createSocket('udp4');
      sockets.push(sink);
      await new Promise((resolve, reject) => sink.once('error', reject).bind(PORT, vlan.outerAddr, resolve));
      peerSink = spawn('ip', [
        'netns',
        'exec',
        link.ns,
        'python3',
        '-c',
        `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('${vlan.innerAddr}', ${PORT}))\nprint('bound', flush=True)\nwhile True: s.recv(65536)`,
      ]);
      await new Promise((resolve, reject) => {
        peerSink.stdout.once('data', resolve);
        peerSink.once('exit', (code) => reject(new Error(`the peer's sink exited ${code}`)));
      });
    });

    after(function () {
      peerSink?.removeAllListeners('exit');
      peerSink?.kill();
      for (const s of sockets) s.close();
      link?.close();
    });

    for (const { filter, expected, snaplen } of CASES) {
      const title = snaplen ? `${filter}, snapshot ${snaplen}` : filter;
      it(`${title}: the ${expected} frames tcpdump writes, tags in place`, async function () {
        const cap = await openCapturer({ ...variant, interfaces: [link.outer], filter, ...(snaplen ? { snaplen } : {}) });
        const tcpdump = await startTcpdump(link.outer, filter, { args: snaplen ? ['-s', String(snaplen)] : [] });
        const ours = [];
        const reading = (async () => {
          for await (const batch of cap) {
            for (const p of batch) ours.push({ data: Buffer.from(p.data), length: p.length, direction: p.direction });
          }
        })();
        // Each kind in turn, so both captures hold them in the same order.
        await sendFromPeer(link, { port: PORT, count: COUNT, size: 60, to: vlan.outerAddr });
        await sendToPeer(link, { port: PORT, count: COUNT, size: 70, to: vlan.innerAddr });
        await sendFromPeer(link, { port: PORT, count: COUNT, size: 80 });
        await until('tcpdump has written what it keeps', () => tcpdump.written() >= expected);
        await until('tapwire has read what it keeps', () => ours.length >= expected);
        const { packets, summary } = await tcpdump.stop();
        await cap.close();
        await reading;

        assert.equal(packets.length, expected, `tcpdump: ${summary}`);
        assert.equal(ours.length, packets.length, JSON.stringify(cap.stats()));
        ours.forEach((p, i) => {
          const theirs = packets[i];
          assert.equal(p.length, theirs.length, `frame ${i}: length on the wire`);
          assert.deepEqual(p.data, theirs.data, `frame ${i} differs from tcpdump's`);
          if (snaplen) assert.equal(p.data.length, snaplen);
        });
        const tagged = ours.filter((p) => p.data.readUInt16BE(12) === 0x8100);
        if (filter.startsWith('vlan')) {
          assert.equal(tagged.length, ours.length, 'every frame kept carries its tag');
          for (const p of tagged) assert.equal(p.data.readUInt16BE(14) & 0xfff, VLAN_ID);
          if (expected > 0) assert.deepEqual(new Set(ours.map((p) => p.direction)), new Set(['in', 'out']), 'both directions');
        }
        assert.deepEqual(cap.stats().drops, { kernel: 0, ring: 0, userspace: 0 });
      });
    }
  });
}
