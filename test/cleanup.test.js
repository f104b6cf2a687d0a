'use strict';
// Nothing tapwire puts in the kernel outlives it: after close(), and after SIGKILL of a
// capturing process, bpftool finds none of its programs or links, tc finds no qdisc,
// and promiscuous mode is off.
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { openCapturer } = require('..');
const { requirePrivileges, requireVariant } = require('./helpers/privileged');
const { kernelHas } = require('./helpers/features');
const { createLink, removeLink } = require('./helpers/netns');
const { runChildUntilReady } = require('./helpers/hosts');
const { bpfList, objectsOf } = require('./helpers/bpftool');

const IFF_PROMISC = 0x100;

function kernelObjects() {
  return {
    progs: new Set(bpfList('prog').map((p) => p.id)),
    links: new Set(bpfList('link').map((l) => l.id)),
  };
}

/** Ids that appeared between two snapshots. */
function added(before, after) {
  return {
    progs: [...after.progs].filter((id) => !before.progs.has(id)),
    links: [...after.links].filter((id) => !before.links.has(id)),
  };
}

async function gone(ids) {
  // The kernel frees programs after an RCU grace period: allow it a moment.
  for (let i = 0; i < 50; i++) {
    const now = kernelObjects();
    const left = { progs: ids.progs.filter((id) => now.progs.has(id)), links: ids.links.filter((id) => now.links.has(id)) };
    if (left.progs.length === 0 && left.links.length === 0) return left;
    await sleep(100);
  }
  return { progs: ids.progs.filter((id) => kernelObjects().progs.has(id)), links: ids.links.filter((id) => kernelObjects().links.has(id)) };
}

function qdiscs(iface) {
  return execFileSync('tc', ['qdisc', 'show', 'dev', iface], { encoding: 'utf8' });
}

function promiscuous(iface) {
  return (Number(fs.readFileSync(`/sys/class/net/${iface}/flags`, 'utf8')) & IFF_PROMISC) !== 0;
}

describe('kernel state after close and after SIGKILL', function () {
  let link;

  before(async function () {
    await requirePrivileges(this, ['bpftool', 'tc', 'ip', 'capsh']);
    link = createLink();
  });

  after(function () {
    if (link) removeLink(link);
  });

  for (const attach of ['tcx', 'socket']) {
    it(`eBPF (${attach}): close() removes every program and link`, async function () {
      await requireVariant(this, { backend: 'ebpf', attach });
      const qdiscBefore = qdiscs(link.outer);
      const before = objectsOf(process.pid);
      const cap = await openCapturer({ backend: 'ebpf', attach, interfaces: [link.outer], filter: 'udp', promiscuous: true });
      const ours = added(before, objectsOf(process.pid));
      assert.ok(ours.progs.length >= 3, `expected our programs to be loaded, saw ${ours.progs.length}`);
      const listed = kernelObjects();
      assert.ok(
        ours.progs.every((id) => listed.progs.has(id)),
        'bpftool lists them',
      );
      if (attach === 'tcx') assert.ok(ours.links.length >= 2, 'one tcx link per direction');
      assert.equal(promiscuous(link.outer), true);
      await cap.close();
      assert.deepEqual(await gone(ours), { progs: [], links: [] });
      assert.equal(qdiscs(link.outer), qdiscBefore, 'no qdisc added or left');
      assert.equal(promiscuous(link.outer), false);
    });

    it(`eBPF (${attach}): SIGKILL of the capturing process leaves nothing behind`, async function () {
      await requireVariant(this, { backend: 'ebpf', attach });
      const qdiscBefore = qdiscs(link.outer);
      const child = await runChildUntilReady({
        backend: 'ebpf',
        attach,
        interfaces: [link.outer],
        promiscuous: true,
        count: 1e9,
        timeout: 60000,
      });
      const ours = added({ progs: new Set(), links: new Set() }, objectsOf(child.pid));
      assert.ok(ours.progs.length >= 3, `expected the child's programs to be loaded, saw ${ours.progs.length}`);
      assert.equal(promiscuous(link.outer), true);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      assert.deepEqual(await gone(ours), { progs: [], links: [] });
      assert.equal(qdiscs(link.outer), qdiscBefore);
      assert.equal(promiscuous(link.outer), false);
    });
  }

  it("the kernel's list of programs and links can be read while other captures come and go", async function () {
    const attach = kernelHas('tcx') ? 'tcx' : 'socket';
    await requireVariant(this, { backend: 'ebpf', attach });
    // Our own capture's programs and links: every read below must list them.
    const before = objectsOf(process.pid);
    const cap = await openCapturer({ backend: 'ebpf', attach, interfaces: [link.outer] });
    const ours = added(before, objectsOf(process.pid));
    // Another process opening and closing captures: links and programs vanish while
    // bpftool walks their ids.
    const churn = spawn(
      process.execPath,
      [
        '-e',
        `
      const { openCapturer } = require(${JSON.stringify(path.join(__dirname, '..'))});
      (async () => { for (let i = 0; ; i++) {
        const cap = await openCapturer({ backend: 'ebpf', attach: '${attach}', interfaces: ['lo'], bufferSize: 1 << 20 });
        await cap.close();
        console.log('cycle');
      } })();`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      assert.ok(ours.progs.length > 0);
      let cycles = 0;
      churn.stdout.on('data', (d) => (cycles += String(d).split('cycle').length - 1));
      await new Promise((resolve, reject) => {
        churn.stdout.once('data', resolve);
        churn.once('exit', (code) => reject(new Error(`the churning process exited ${code}`)));
      });
      // Reads overlapping several of the other process's open/close cycles, however
      // fast this machine runs either (bpftool's walk is what races them).
      const start = cycles;
      for (let i = 0; i < 20 || cycles - start < 5; i++) {
        const now = kernelObjects();
        assert.ok(ours.progs.every((id) => now.progs.has(id)) && ours.links.every((id) => now.links.has(id)), `read ${i} missed ours`);
        await new Promise(setImmediate); // let the churner's lines in
      }
    } finally {
      churn.kill('SIGKILL');
      await cap.close();
    }
  });

  it('raw-socket: SIGKILL leaves no promiscuous mode and no qdisc behind', async function () {
    const qdiscBefore = qdiscs(link.outer);
    const child = await runChildUntilReady({
      backend: 'raw-socket',
      interfaces: [link.outer],
      promiscuous: true,
      count: 1e9,
      timeout: 60000,
    });
    assert.equal(promiscuous(link.outer), true);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(promiscuous(link.outer), false);
    assert.equal(qdiscs(link.outer), qdiscBefore);
  });
});
