'use strict';
// The rule the product exists for, on real kernels: hosts without eBPF get the
// raw-socket backend whatever TLS says, and capture every packet; only
// tls: 'required' is refused, with ERR_TLS_UNAVAILABLE naming the probe result.
// Hosts with the minimum capability sets for eBPF get it, with the attach they allow;
// a host whose kernel refuses the eBPF programs when a capture opens gets raw-socket.
// What each host should get follows from the kernel's release (helpers/features.js),
// never from the probe under test: a probe that wrongly said "no tcx" fails here.
const assert = require('node:assert/strict');
const { requirePrivileges } = require('./helpers/privileged');
const { kernelAtLeast, kernelHas, MEMCG_ACCOUNTING } = require('./helpers/features');
const { createLinkWithSink, sendFromPeer } = require('./helpers/netns');
const { runChild } = require('./helpers/hosts');

const PORT = 5101;
const COUNT = 500;
const EPERM = 1;
const ENOSYS = 38;

describe('hosts with and without eBPF (real kernel, reduced process)', function () {
  let link;
  const tcx = kernelHas('tcx');

  before(async function () {
    await requirePrivileges(this, ['python3', 'ip', 'capsh', 'cc', 'prlimit']);
    link = await createLinkWithSink(PORT);
  });

  after(function () {
    link?.close();
  });

  // tls: whether TLS capture can run there (uprobes need CAP_SYS_ADMIN). tcx exists from
  // Linux 6.6.
  const cells = [
    { host: 'eBPF-capable (root)', bpfErrno: 0, expected: 'ebpf', tlsOn: true },
    {
      host: 'CAP_BPF + CAP_NET_ADMIN only',
      bpfErrno: 0,
      expected: tcx ? 'ebpf' : 'ERR_NO_BACKEND',
      attach: 'tcx',
      tlsOn: false,
    },
    { host: 'CAP_BPF + CAP_NET_RAW only', bpfErrno: 0, expected: 'ebpf', attach: 'socket', tlsOn: false },
    { host: 'without CAP_SYS_ADMIN/CAP_BPF/CAP_PERFMON', bpfErrno: EPERM, expected: 'raw-socket', tlsOn: false },
    { host: 'with bpf() ENOSYS (seccomp)', bpfErrno: ENOSYS, expected: 'raw-socket', tlsOn: false },
    { host: 'eBPF programs load but may not attach (seccomp)', bpfErrno: 0, expected: 'raw-socket', tlsOn: false, fellBack: true },
  ];

  for (const cell of cells) {
    const { host, bpfErrno, expected, attach, tlsOn, fellBack } = cell;
    for (const tls of [false, 'auto', 'required']) {
      const refused = tls === 'required' && !tlsOn;
      const title = expected.startsWith('ERR_') ? `${expected} (this kernel has no tcx)` : `${expected}, every packet`;
      it(`${host}, tls ${JSON.stringify(tls)}: ${refused ? 'refused with ERR_TLS_UNAVAILABLE' : title}`, async function () {
        let sent = 0;
        const messages = await runChild(host, { interfaces: [link.outer], filter: `udp port ${PORT}`, tls, count: COUNT }, async () => {
          sent = await sendFromPeer(link, { port: PORT, count: COUNT, size: 64 });
        });
        const report = (messages.ready ?? messages.error).probe;
        assert.equal(report.features.bpf.errno, bpfErrno, `probe saw bpf() errno ${report.features.bpf.errno}`);
        if (expected.startsWith('ERR_')) {
          // Selection comes first: no TLS value changes what it says.
          assert.equal(messages.error?.code, expected, JSON.stringify(messages));
          return;
        }
        if (refused) {
          assert.equal(messages.error?.code, 'ERR_TLS_UNAVAILABLE', JSON.stringify(messages));
          if (bpfErrno) assert.match(messages.error.message, bpfErrno === ENOSYS ? /ENOSYS/ : /EPERM/);
          else if (fellBack) assert.match(messages.error.message, /could not start.*SO_ATTACH_BPF/);
          else assert.match(messages.error.message, /uprobes/);
          return;
        }
        assert.ok(messages.ready, JSON.stringify(messages.error));
        assert.equal(messages.ready.backend, expected);
        if (attach) assert.equal(messages.ready.selection.attach, attach);
        if (fellBack) {
          // The probe passed; opening found out, and said so for every attempt.
          assert.equal(report.features.socketCapture.ok, true);
          const reasons = messages.ready.selection.reasons.join('\n');
          if (tcx) assert.match(reasons, /ebpf \(tcx\) could not start, so ebpf \(socket\) is tried: .*BPF_LINK_CREATE/);
          assert.match(reasons, /ebpf \(socket\) could not start, so raw-socket is tried: .*SO_ATTACH_BPF/);
        }
        assert.equal(messages.ready.selection.tls.active, tls !== false && tlsOn, messages.ready.selection.tls.reason);
        if (tls === 'auto' && !tlsOn) assert.match(messages.ready.selection.tls.reason, expected === 'ebpf' ? /uprobes/ : /eBPF backend/);
        assert.equal(sent, COUNT);
        assert.equal(messages.done.captured, COUNT);
        assert.deepEqual(messages.done.stats.drops, { kernel: 0, ring: 0, userspace: 0 });
      });
    }
  }

  // attribution: true chooses nothing either: where the backend chosen cannot attribute,
  // the capture does not open, and says which backend it was and why.
  for (const [host, chosen] of [
    ['without CAP_SYS_ADMIN/CAP_BPF/CAP_PERFMON', /captures with raw-socket/],
    ['CAP_BPF + CAP_NET_RAW only', /captures with ebpf \(socket\)/],
  ]) {
    it(`${host}, attribution: true: refused with ERR_ATTRIBUTION_UNAVAILABLE naming the backend selection chose`, async function () {
      const messages = await runChild(host, { interfaces: [link.outer], attribution: true, count: 1 }, () => {});
      assert.equal(messages.ready, undefined, 'a capture opened without attribution');
      assert.equal(messages.error?.code, 'ERR_ATTRIBUTION_UNAVAILABLE', JSON.stringify(messages));
      assert.match(messages.error.message, chosen);
    });
  }

  describe('a kernel that holds BPF maps to RLIMIT_MEMLOCK (before 5.11), with a small limit', function () {
    const host = 'RLIMIT_MEMLOCK 512 KiB, no CAP_SYS_RESOURCE';

    before(function () {
      if (kernelAtLeast(MEMCG_ACCOUNTING)) this.skip(`Linux ${MEMCG_ACCOUNTING}+ charges BPF maps to memory cgroups, not RLIMIT_MEMLOCK`);
    });

    it("'auto' captures every packet on raw-socket and says the ring did not fit", async function () {
      let sent = 0;
      const messages = await runChild(
        host,
        { interfaces: [link.outer], filter: `udp port ${PORT}`, tls: 'auto', count: COUNT },
        async () => {
          sent = await sendFromPeer(link, { port: PORT, count: COUNT, size: 64 });
        },
      );
      assert.ok(messages.ready, JSON.stringify(messages.error));
      assert.equal(messages.ready.probe.features.memlock.ok, false);
      assert.equal(messages.ready.backend, 'raw-socket');
      assert.match(messages.ready.selection.reasons.join('\n'), /could not start, so raw-socket is tried: .*RLIMIT_MEMLOCK/);
      assert.match(messages.ready.selection.tls.reason, /raw-socket \(ebpf \(socket\) could not start/);
      assert.equal(sent, COUNT);
      assert.equal(messages.done.captured, COUNT);
    });

    it("backend 'ebpf': ERR_PERMISSION saying how to raise the limit", async function () {
      const messages = await runChild(host, { interfaces: [link.outer], backend: 'ebpf', count: 1 }, () => {});
      assert.equal(messages.error?.code, 'ERR_PERMISSION', JSON.stringify(messages));
      assert.match(messages.error.message, /RLIMIT_MEMLOCK.*ulimit -l unlimited.*CAP_SYS_RESOURCE/);
    });
  });

  it("eBPF programs load but may not attach, backend 'ebpf': the kernel's refusal, never raw-socket", async function () {
    const messages = await runChild(
      'eBPF programs load but may not attach (seccomp)',
      { interfaces: [link.outer], backend: 'ebpf', count: 1 },
      () => {},
    );
    assert.equal(messages.ready, undefined, 'a forced backend does not fall back');
    assert.equal(messages.error?.code, 'ERR_SYSTEM', JSON.stringify(messages));
    assert.match(messages.error.message, /SO_ATTACH_BPF.*Invalid argument/);
  });

  it('without CAP_NET_RAW nor BPF capabilities: ERR_NO_BACKEND naming both', async function () {
    const messages = await runChild('without CAP_NET_RAW nor BPF', { interfaces: [link.outer], count: 1 }, () => {});
    assert.equal(messages.error?.code, 'ERR_NO_BACKEND', JSON.stringify(messages));
    assert.match(messages.error.message, /raw-socket: .*CAP_NET_RAW/);
    assert.match(messages.error.message, /ebpf: .*CAP_BPF/);
  });

  it("without CAP_NET_RAW, backend 'raw-socket': ERR_BACKEND_UNAVAILABLE naming the capability", async function () {
    const messages = await runChild('without CAP_NET_RAW', { interfaces: [link.outer], backend: 'raw-socket', count: 1 }, () => {});
    assert.equal(messages.error?.code, 'ERR_BACKEND_UNAVAILABLE', JSON.stringify(messages));
    assert.match(messages.error.message, /CAP_NET_RAW/);
  });
});
