'use strict';
// Interfaces that change under a capture: one set down and up keeps its capture (as
// tcpdump's does), with nothing lost that is not counted; one that is deleted ends the
// capture with ERR_INTERFACE_GONE naming it, after every frame captured before.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const { openCapturer } = require('..');
const { requireVariant } = require('./helpers/privileged');
const { createLinkWithSink, sendFromPeer } = require('./helpers/netns');
const { until } = require('./helpers/poll');
const { descriptors } = require('./helpers/resources');

const PORT = 5001;
const VARIANTS = [{ backend: 'raw-socket' }, { backend: 'ebpf', attach: 'tcx' }, { backend: 'ebpf', attach: 'socket' }];

const operstate = (iface) => fs.readFileSync(`/sys/class/net/${iface}/operstate`, 'utf8').trim();

for (const variant of VARIANTS) {
  describe(`interfaces that change under a capture (${Object.values(variant).join(', ')})`, function () {
    let link;

    beforeEach(async function () {
      await requireVariant(this, variant, ['ip', 'python3']);
      link = await createLinkWithSink(PORT);
    });

    afterEach(function () {
      link?.close();
      link = undefined;
    });

    it('keeps capturing through down and up, delivering as it goes', async function () {
      const cap = await openCapturer({ ...variant, interfaces: [link.outer], filter: `udp port ${PORT}` });
      let delivered = 0;
      const reading = (async () => {
        for await (const batch of cap) delivered += batch.length;
      })();
      await sendFromPeer(link, { port: PORT, count: 100 });
      await until('the first 100 frames', () => delivered === 100);
      execFileSync('ip', ['link', 'set', link.outer, 'down']);
      await until(`${link.outer} down`, () => operstate(link.outer) === 'down');
      execFileSync('ip', ['link', 'set', link.outer, 'up']);
      await until(`${link.outer} up`, () => operstate(link.outer) === 'up');
      await sendFromPeer(link, { port: PORT, count: 100 });
      // Delivered while capturing, not only by close()'s final flush.
      await until('the next 100 frames, delivered while open', () => delivered === 200);
      await cap.close();
      await reading;
      assert.equal(delivered, 200);
      assert.deepEqual(cap.stats().drops, { kernel: 0, ring: 0, userspace: 0 });
    });

    it('ends the iteration with ERR_INTERFACE_GONE when the interface is deleted, and releases the capture', async function () {
      const held = descriptors();
      const cap = await openCapturer({ ...variant, interfaces: [link.outer], filter: `udp port ${PORT}` });
      const errors = [];
      cap.on('error', (err) => errors.push(err));
      let delivered = 0;
      const reading = (async () => {
        for await (const batch of cap) delivered += batch.length;
      })();
      await sendFromPeer(link, { port: PORT, count: 100 });
      await until('the first 100 frames', () => delivered === 100);
      execFileSync('ip', ['link', 'del', link.outer]);
      await assert.rejects(reading, (err) => {
        assert.equal(err.code, 'ERR_INTERFACE_GONE');
        assert.equal(err.interface, link.outer);
        assert.match(err.message, new RegExp(`"${link.outer}" disappeared`));
        return true;
      });
      assert.equal(delivered, 100);
      assert.equal(errors.length, 1, "one 'error' event");
      assert.equal(cap.closed, true);
      assert.deepEqual(descriptors(), held, 'nothing of the capture is left open');
    });
  });
}
