'use strict';
// On loopback every frame sent is received again, and every attach point sees both
// copies. libpcap keeps only the incoming one, so tcpdump shows each packet once;
// tapwire does the same, on every backend, named 'lo' or capturing on every interface.
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const { openCapturer } = require('..');
const { requireVariant } = require('./helpers/privileged');
const { startTcpdump } = require('./helpers/tools');
const { captureWhile } = require('./helpers/capture');

const VARIANTS = [{ backend: 'raw-socket' }, { backend: 'ebpf', attach: 'tcx' }, { backend: 'ebpf', attach: 'socket' }];
const PORT = 25000 + (process.pid % 1000);

/** Sends `count` datagrams over loopback to a socket bound to `port`. */
async function sendOverLoopback(port, count) {
  const sink = dgram.createSocket('udp4');
  await new Promise((resolve) => sink.bind(port, '127.0.0.1', resolve));
  const sender = dgram.createSocket('udp4');
  let received = 0;
  const all = new Promise((resolve) => sink.on('message', () => ++received === count && resolve()));
  for (let i = 0; i < count; i++) sender.send(Buffer.from(`datagram ${i}`), port, '127.0.0.1');
  await all;
  sender.close();
  sink.close();
}

describe('loopback: each packet once', function () {
  for (const variant of VARIANTS) {
    for (const interfaces of [['lo'], undefined]) {
      const where = interfaces ? 'on lo' : 'on every interface';
      it(`${Object.values(variant).join(', ')} ${where}: each loopback packet once, incoming, as tcpdump shows it`, async function () {
        await requireVariant(this, variant, ['tcpdump']);
        const port = PORT + (interfaces ? 0 : 1);
        const filter = `udp port ${port}`;
        const dump = await startTcpdump('lo', filter);
        const cap = await openCapturer({ ...variant, interfaces, filter });
        const { packets } = await captureWhile(cap, () => sendOverLoopback(port, 3));
        const reference = await dump.stop();
        assert.equal(reference.packets.length, 3, 'tcpdump saw each datagram once');
        assert.equal(packets.length, 3);
        for (const [i, p] of packets.entries()) {
          assert.equal(p.direction, 'in');
          assert.equal(p.interfaceIndex, 1);
          assert.deepEqual(p.data, reference.packets[i].data);
        }
      });
    }
  }
});
