'use strict';
// Captures inside another network namespace (the `netns` option): the interfaces are the
// namespace's own, checked against tcpdump run inside it on the same traffic, while this
// process's threads stay where they are. The namespace is the far end of a test link,
// as a pod's is on a Kubernetes node.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer, PcapngWriter } = require('..');
const { requirePrivileges, requireVariant } = require('./helpers/privileged');
const { createLink, removeLink, sendToPeer } = require('./helpers/netns');
const { startTcpdump, run } = require('./helpers/tools');
const { captureWhile } = require('./helpers/capture');
const { descriptors } = require('./helpers/resources');
const { tsharkFields } = require('./helpers/files');
const { until } = require('./helpers/poll');

const PORT = 5401;
const BIN = path.join(__dirname, '..', 'bin', 'tapwire.js');
const ownNamespace = () => fs.readlinkSync('/proc/thread-self/ns/net');
const isError = (code, pattern) => (err) => err.code === code && pattern.test(err.message);

const VARIANTS = [{ backend: 'ebpf', attach: 'tcx' }, { backend: 'ebpf', attach: 'socket' }, { backend: 'raw-socket' }];

/** A process that lives in the link's namespace until killed; its pid names the namespace. */
async function processIn(link) {
  // ip netns exec enters the namespace and execs sleep in the same process.
  const child = spawn('ip', ['netns', 'exec', link.ns, 'sleep', '600'], { stdio: 'ignore' });
  const inode = fs.statSync(`/run/netns/${link.ns}`).ino;
  await until('the process in the namespace', () => {
    try {
      return fs.statSync(`/proc/${child.pid}/ns/net`).ino === inode;
    } catch {
      return false;
    }
  });
  return child;
}

for (const variant of VARIANTS) {
  describe(`capture inside another network namespace (${Object.values(variant).join(', ')})`, function () {
    let link;

    beforeEach(async function () {
      await requireVariant(this, variant, ['ip', 'python3', 'tcpdump']);
      link = createLink();
    });

    afterEach(function () {
      if (link) removeLink(link);
      link = undefined;
    });

    it('by name: the packets tcpdump sees inside it, on its interface, named as it names it', async function () {
      const before = ownNamespace();
      const tcpdump = await startTcpdump(link.inner, `udp port ${PORT}`, { ns: link.ns });
      const cap = await openCapturer({ ...variant, netns: link.ns, interfaces: [link.inner], filter: `udp port ${PORT}` });
      assert.equal(cap.selection.backend, variant.backend);
      assert.equal(ownNamespace(), before, 'this thread is back in its own namespace');
      const { packets } = await captureWhile(cap, () => sendToPeer(link, { port: PORT, count: 50, size: 100 }));
      const reference = (await tcpdump.stop()).packets;
      assert.equal(reference.length, 50);
      assert.equal(packets.length, 50);
      packets.forEach((p, i) => {
        assert.equal(cap.interfaceName(p.interfaceIndex), link.inner);
        assert.equal(p.direction, 'in');
        assert.deepEqual(Buffer.from(p.data), Buffer.from(reference[i].data), `packet ${i}`);
      });
      assert.deepEqual(cap.stats().drops, { kernel: 0, ring: 0, userspace: 0 });
    });

    it('by pid, on every interface: the namespace of that process, and its names', async function () {
      const sleeper = await processIn(link);
      try {
        const cap = await openCapturer({ ...variant, netns: sleeper.pid, filter: `udp port ${PORT}` });
        const { packets } = await captureWhile(cap, () => sendToPeer(link, { port: PORT, count: 20 }));
        assert.equal(packets.length, 20);
        assert.deepEqual([...new Set(packets.map((p) => cap.interfaceName(p.interfaceIndex)))], [link.inner]);
        assert.match(
          cap.interfaceDescription(packets[0].interfaceIndex),
          new RegExp(`^network namespace /proc/${sleeper.pid}/ns/net \\(net:\\[\\d+\\]\\)$`),
        );
      } finally {
        sleeper.kill();
      }
    });

    it('an interface deleted inside the namespace ends the capture with ERR_INTERFACE_GONE', async function () {
      const cap = await openCapturer({ ...variant, netns: link.ns, interfaces: [link.inner], filter: `udp port ${PORT}` });
      const ended = assert.rejects(
        (async () => {
          for await (const _ of cap);
        })(),
        (err) => err.code === 'ERR_INTERFACE_GONE' && err.interface === link.inner,
      );
      await run('ip', ['-n', link.ns, 'link', 'del', link.inner]);
      await ended;
      await cap.close();
    });

    it('close() gives back the namespace and every descriptor', async function () {
      const held = descriptors();
      const cap = await openCapturer({ ...variant, netns: link.ns, interfaces: [link.inner] });
      const inode = fs.statSync(`/run/netns/${link.ns}`).ino;
      const namespaceFds = () =>
        fs.readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return fs.statSync(`/proc/self/fd/${fd}`).ino === inode;
          } catch {
            return false;
          }
        }).length;
      assert.ok(namespaceFds() >= 1, 'the capture holds the namespace open');
      await cap.close();
      assert.equal(namespaceFds(), 0);
      assert.deepEqual(descriptors(), held);
    });
  });
}

describe('netns: what it takes, and its errors', function () {
  let link;

  before(async function () {
    await requirePrivileges(this, ['ip', 'python3', 'tshark']);
    link = createLink();
  });

  after(function () {
    if (link) removeLink(link);
  });

  it('a name with no namespace, a file that is not one, a pid that is gone: ERR_NO_SUCH_NAMESPACE', async function () {
    await assert.rejects(
      openCapturer({ netns: 'twt-none' }),
      isError('ERR_NO_SUCH_NAMESPACE', /at \/run\/netns\/twt-none: there is no such file/),
    );
    await assert.rejects(
      openCapturer({ netns: '/etc/hostname' }),
      isError('ERR_NO_SUCH_NAMESPACE', /at \/etc\/hostname: not a network namespace/),
    );
    // A pid past pid_max is never a process.
    const pidMax = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    await assert.rejects(
      openCapturer({ netns: pidMax + 1 }),
      isError('ERR_NO_SUCH_NAMESPACE', new RegExp(`there is no process ${pidMax + 1}`)),
    );
    for (const backend of ['ebpf', 'raw-socket']) {
      await assert.rejects(openCapturer({ backend, netns: 'twt-none' }), isError('ERR_NO_SUCH_NAMESPACE', /twt-none/));
    }
  });

  it('bad values and a replay are ERR_INVALID_OPTION', async function () {
    for (const netns of [0, -3, 1.5, '', {}, 'a\0b']) {
      await assert.rejects(openCapturer({ netns }), isError('ERR_INVALID_OPTION', /^netns/), JSON.stringify(netns));
    }
    await assert.rejects(openCapturer({ file: '/dev/null', netns: link.ns }), isError('ERR_INVALID_OPTION', /netns/));
  });

  it("an interface that is not in the namespace is ERR_NO_SUCH_INTERFACE naming the namespace (the host's is not taken)", async function () {
    await assert.rejects(
      openCapturer({ netns: link.ns, interfaces: [link.outer] }),
      isError('ERR_NO_SUCH_INTERFACE', new RegExp(`"${link.outer}" in network namespace /run/netns/${link.ns}`)),
    );
  });

  it("TLS stays off with the reason, and 'required' fails: the backend is the one chosen without it", async function () {
    const plain = await openCapturer({ netns: link.ns });
    const chosen = plain.selection.backend;
    await plain.close();
    const cap = await openCapturer({ netns: link.ns, tls: 'auto' });
    try {
      assert.equal(cap.selection.backend, chosen);
      assert.equal(cap.selection.tls.active, false);
      assert.match(cap.selection.tls.reason, chosen === 'ebpf' ? /not confined to a network namespace/ : /only on the eBPF backend/);
      assert.equal(cap.tls, undefined);
    } finally {
      await cap.close();
    }
    const held = descriptors();
    await assert.rejects(openCapturer({ netns: link.ns, tls: 'required' }), (err) => err.code === 'ERR_TLS_UNAVAILABLE');
    assert.deepEqual(descriptors(), held, 'nothing left open by the refused capture');
  });

  it('pcapng names the interface and, in its description, the namespace (tshark reads both)', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-netns-'));
    try {
      const file = path.join(dir, 'ns.pcapng');
      const cap = await openCapturer({ netns: link.ns, interfaces: [link.inner], filter: `udp port ${PORT}` });
      const writer = new PcapngWriter(file, { source: cap });
      const { batches } = await captureWhile(cap, () => sendToPeer(link, { port: PORT, count: 3 }));
      for (const batch of batches) await writer.write(batch);
      await writer.close();
      const rows = tsharkFields(file, ['frame.interface_name', 'frame.interface_description']);
      assert.equal(rows.length, 3);
      for (const row of rows) {
        assert.equal(row['frame.interface_name'], link.inner);
        assert.match(row['frame.interface_description'], new RegExp(`^network namespace /run/netns/${link.ns} \\(net:\\[\\d+\\]\\)$`));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tapwire capture --netns: the namespace named, its packets printed; -D lists its interfaces', async function () {
    const listed = await run(process.execPath, [BIN, 'capture', '-D', '--netns', link.ns]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      listed.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^\d+\./, '').replace(/ \[Up\]$/, ''))
        .sort(),
      ['lo', link.inner].sort(),
    );
    const child = spawn(process.execPath, [BIN, 'capture', '--netns', link.ns, '-i', link.inner, '-c', '3', `udp port ${PORT}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const done = new Promise((resolve) => child.on('close', resolve));
    await until('tapwire listening', () => /listening on/.test(err));
    assert.match(err, new RegExp(`listening on ${link.inner} in network namespace ${link.ns} with the`));
    await sendToPeer(link, { port: PORT, count: 3 });
    assert.equal(await done, 0, err);
    assert.equal(out.trim().split('\n').length, 3);
    assert.match(out, new RegExp(`> ${link.innerAddr.replace(/\./g, '\\.')}\\.${PORT}: UDP`));
  });
});
