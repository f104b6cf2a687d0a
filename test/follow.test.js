'use strict';
// Every-interface captures follow the host: an interface (or a pod-like namespace with
// its veth) made after the capture opened is captured, and one that goes is let go,
// each change said by an 'interface' event. The traffic is a test link's own.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { openCapturer } = require('..');
const { requireVariant } = require('./helpers/privileged');
const { createLink, createLinkWithSink, removeLink, sendFromPeer, sendToPeer } = require('./helpers/netns');
const { descriptors } = require('./helpers/resources');
const { until } = require('./helpers/poll');
const { run } = require('./helpers/tools');

const PORT = 5501;

const VARIANTS = [{ backend: 'ebpf', attach: 'tcx' }, { backend: 'ebpf', attach: 'socket' }, { backend: 'raw-socket' }];

/** Reads `cap` into per-interface-name counts until the iteration ends. */
function tally(cap) {
  const byName = new Map();
  const done = (async () => {
    for await (const batch of cap) {
      for (const p of batch) {
        const name = cap.interfaceName(p.interfaceIndex);
        byName.set(name, (byName.get(name) ?? 0) + 1);
      }
    }
  })();
  return { byName, done };
}

for (const variant of VARIANTS) {
  const ebpf = variant.backend === 'ebpf';
  describe(`every-interface captures follow the host (${Object.values(variant).join(', ')})`, function () {
    const links = [];

    beforeEach(async function () {
      await requireVariant(this, variant, ['ip', 'python3']);
    });

    afterEach(function () {
      for (const link of links.splice(0)) link.close ? link.close() : removeLink(link);
    });

    it('a pod-like namespace and veth made after open: its traffic is captured, and the interface said', async function () {
      const cap = await openCapturer({ ...variant, filter: `udp port ${PORT}` });
      const events = [];
      cap.on('interface', (e) => events.push(e));
      const { byName, done } = tally(cap);
      const link = await createLinkWithSink(PORT);
      links.push(link);
      await until(`${link.outer} added`, () => events.some((e) => e.change === 'added' && e.name === link.outer));
      const added = events.find((e) => e.name === link.outer);
      assert.deepEqual(added, { change: 'added', name: link.outer, index: link.outerIndex, attached: true });
      assert.equal(await sendFromPeer(link, { port: PORT, count: 10 }), 10);
      await until('the 10 datagrams', () => byName.get(link.outer) === 10);
      if (ebpf) {
        const counted = cap.stats().interfaces.find((i) => i.index === link.outerIndex);
        assert.deepEqual(counted, {
          index: link.outerIndex,
          name: link.outer,
          packets: 10,
          bytes: 10 * (14 + 20 + 8 + 64),
          attached: true,
        });
      }
      await cap.close();
      await done;
      assert.equal(byName.get(link.outer), 10);
    });

    it('an interface that goes is let go and said; what it carried stays counted', async function () {
      const link = await createLinkWithSink(PORT);
      links.push(link);
      const cap = await openCapturer({ ...variant, filter: `udp port ${PORT}` });
      const events = [];
      cap.on('interface', (e) => events.push(e));
      const { byName, done } = tally(cap);
      await sendFromPeer(link, { port: PORT, count: 5 });
      await until('the 5 datagrams', () => byName.get(link.outer) === 5);
      const held = descriptors();
      execFileSync('ip', ['link', 'del', link.outer]);
      await until(`${link.outer} removed`, () => events.some((e) => e.change === 'removed' && e.index === link.outerIndex));
      assert.deepEqual(
        events.find((e) => e.change === 'removed'),
        { change: 'removed', name: link.outer, index: link.outerIndex, attached: false },
      );
      if (ebpf) {
        // Its packet socket (socket attach) or tcx links are closed with it.
        const now = descriptors();
        assert.ok(now.packetSockets <= held.packetSockets && now.bpfLinks <= held.bpfLinks, JSON.stringify({ held, now }));
        if (variant.attach === 'socket') assert.equal(now.packetSockets, held.packetSockets - 1);
        if (variant.attach === 'tcx') assert.equal(now.bpfLinks, held.bpfLinks - 2);
        const counted = cap.stats().interfaces.find((i) => i.index === link.outerIndex);
        assert.equal(counted.packets, 5);
        assert.equal(counted.attached, false);
      }
      await cap.close();
      await done;
    });

    it('interfaces deleted while the capture opens are passed over, not an error', async function () {
      // Veths come and go in a loop while captures on every interface open: each open
      // lists the interfaces, then hooks them, and some go in between.
      let churning = true;
      const churn = (async () => {
        for (let i = 0; churning; i++) {
          const name = `twc${process.pid % 1000}x${i % 4}`;
          await run('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
          await run('ip', ['link', 'del', name]);
        }
      })();
      try {
        for (let i = 0; i < 15; i++) await (await openCapturer({ ...variant, filter: `udp port ${PORT}` })).close();
      } finally {
        churning = false;
        await churn;
      }
    });

    it('inside a network namespace: an interface made there after open is captured, named as there', async function () {
      const link = createLink();
      links.push(link);
      const cap = await openCapturer({ ...variant, netns: link.ns, filter: `udp port ${PORT}` });
      const events = [];
      cap.on('interface', (e) => events.push(e));
      const { byName, done } = tally(cap);
      // A second pair into the namespace: its inner end appears there, its outer end here.
      const second = { ns: link.ns, outer: `${link.outer.slice(0, -1)}p`, inner: `${link.inner.slice(0, -1)}q` };
      execFileSync('ip', ['link', 'add', second.outer, 'type', 'veth', 'peer', 'name', second.inner, 'netns', link.ns]);
      try {
        execFileSync('ip', ['addr', 'add', '198.19.250.1/30', 'dev', second.outer]);
        execFileSync('ip', ['-n', link.ns, 'addr', 'add', '198.19.250.2/30', 'dev', second.inner]);
        execFileSync('ip', ['link', 'set', second.outer, 'up']);
        execFileSync('ip', ['-n', link.ns, 'link', 'set', second.inner, 'up']);
        await until(`${second.inner} added`, () => events.some((e) => e.change === 'added' && e.name === second.inner && e.attached));
        assert.ok(!events.some((e) => e.name === second.outer), 'nothing of this namespace is said');
        await sendToPeer({ ...link, innerAddr: '198.19.250.2' }, { port: PORT, count: 7 });
        await until('the 7 datagrams', () => byName.get(second.inner) === 7);
      } finally {
        execFileSync('ip', ['link', 'del', second.outer]);
      }
      await cap.close();
      await done;
      assert.deepEqual([...byName.keys()], [second.inner]);
    });
  });
}
