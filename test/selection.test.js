'use strict';
// Selection is a pure function of (probe report, backend option). These tables build
// reports for every kind of host and prove that no TLS value changes the backend.
const assert = require('node:assert/strict');
const { selectBackend, readiness, attachModes } = require('../dist/selection');
const { decideTls, tlsMode } = require('../dist/tls');

const ok = (reason = 'ok') => ({ ok: true, reason, errno: 0 });
const no = (reason, errno = 1) => ({ ok: false, reason, errno });

function host({ bpf = true, packetSocket = true, uprobe = true } = {}) {
  const bpfResult = bpf === true ? ok() : no(`bpf refused (${bpf})`, bpf === 'ENOSYS' ? 38 : 1);
  return {
    kernelRelease: '6.18.0-test',
    capabilities: { CAP_BPF: bpf === true, CAP_PERFMON: bpf === true, CAP_SYS_ADMIN: bpf === true, CAP_NET_ADMIN: true, CAP_NET_RAW: packetSocket },
    features: {
      bpf: bpfResult,
      ringBuffer: bpfResult,
      tcProgram: bpfResult,
      tcx: ok(),
      packetSocket: packetSocket ? ok() : no('AF_PACKET refused: grant CAP_NET_RAW'),
      uprobe: uprobe ? ok() : no('uprobes need CAP_SYS_ADMIN'),
      btf: ok(),
    },
  };
}

const HOSTS = {
  'eBPF-capable': host(),
  'no CAP_BPF/CAP_SYS_ADMIN (EPERM)': host({ bpf: 'EPERM', uprobe: false }),
  'bpf() ENOSYS (seccomp)': host({ bpf: 'ENOSYS' }),
  'no CAP_NET_RAW': host({ packetSocket: false }),
  'nothing at all': host({ bpf: 'EPERM', packetSocket: false, uprobe: false }),
};
const BACKENDS = ['auto', 'ebpf', 'raw-socket'];
const TLS_VALUES = [undefined, false, true, 'auto', 'required', { mode: 'auto' }, { mode: 'required' }];

function outcome(report, backend) {
  try {
    return selectBackend(report, backend);
  } catch (e) {
    return { error: e.code, message: e.message };
  }
}

describe('backend selection', function () {
  it('takes only the probe report and the backend option', function () {
    assert.equal(selectBackend.length, 2);
  });

  for (const [hostName, report] of Object.entries(HOSTS)) {
    for (const backend of BACKENDS) {
      it(`${hostName}, backend '${backend}': the same backend whatever tls says`, function () {
        const expected = outcome(report, backend);
        for (const tls of TLS_VALUES) {
          // openCapturer's order: selection first, TLS decided beside the result.
          const selected = outcome(report, backend);
          assert.deepEqual(selected, expected, `tls ${JSON.stringify(tls)} changed the selection`);
          if (selected.error) continue;
          const mode = tlsMode(tls);
          let tlsResult;
          try {
            tlsResult = decideTls(mode, selected.backend, report);
          } catch (e) {
            tlsResult = { error: e.code };
          }
          // TLS runs only beside the eBPF backend, where uprobes attach; elsewhere
          // 'required' is refused and everything else stays off.
          const possible = selected.backend === 'ebpf' && report.features.uprobe.ok;
          if (mode === 'off') assert.equal(tlsResult.active, false);
          else if (possible) assert.equal(tlsResult.active, true);
          else if (mode === 'required') assert.deepEqual(tlsResult, { error: 'ERR_TLS_UNAVAILABLE' });
          else assert.equal(tlsResult.active, false);
        }
      });
    }
  }

  it("'auto' picks eBPF where the probe allows it", function () {
    const s = selectBackend(HOSTS['eBPF-capable'], 'auto');
    assert.equal(s.backend, 'ebpf');
    assert.match(s.reasons[0], /^ebpf: .*attach by tcx or socket/);
  });

  it("'auto' falls back to raw-socket and says why eBPF was not chosen", function () {
    for (const name of ['no CAP_BPF/CAP_SYS_ADMIN (EPERM)', 'bpf() ENOSYS (seccomp)']) {
      const s = selectBackend(HOSTS[name], 'auto');
      assert.equal(s.backend, 'raw-socket');
      assert.match(s.reasons[0], /^ebpf: /);
      assert.match(s.reasons.at(-1), /^raw-socket: /);
    }
  });

  it('a forced backend that cannot run is an error with the probe reason, never a fallback', function () {
    assert.throws(() => selectBackend(HOSTS['no CAP_NET_RAW'], 'raw-socket'), {
      code: 'ERR_BACKEND_UNAVAILABLE',
      message: /CAP_NET_RAW/,
    });
    assert.throws(() => selectBackend(HOSTS['bpf() ENOSYS (seccomp)'], 'ebpf'), {
      code: 'ERR_BACKEND_UNAVAILABLE',
      message: /ENOSYS/,
    });
  });

  it('no backend at all is ERR_NO_BACKEND naming every reason', function () {
    assert.throws(() => selectBackend(HOSTS['nothing at all'], 'auto'), (e) => {
      assert.equal(e.code, 'ERR_NO_BACKEND');
      assert.match(e.message, /ebpf: /);
      assert.match(e.message, /raw-socket: .*CAP_NET_RAW/);
      return true;
    });
  });

  it('rejects an unknown backend name', function () {
    assert.throws(() => selectBackend(HOSTS['eBPF-capable'], 'pcap'), { code: 'ERR_INVALID_OPTION' });
  });

  it('readiness explains each backend', function () {
    assert.equal(readiness(HOSTS['eBPF-capable'], 'raw-socket').ok, true);
    assert.equal(readiness(HOSTS['no CAP_NET_RAW'], 'raw-socket').ok, false);
    assert.equal(readiness(HOSTS['eBPF-capable'], 'ebpf').ok, true);
  });

  it('eBPF attaches by tcx with CAP_NET_ADMIN, by socket filter with CAP_NET_RAW', function () {
    assert.deepEqual(attachModes(HOSTS['eBPF-capable']), ['tcx', 'socket']);
    const noNetAdmin = host();
    noNetAdmin.features.tcProgram = no('loading a TC program was refused (EPERM)');
    assert.deepEqual(attachModes(noNetAdmin), ['socket']);
    assert.equal(selectBackend(noNetAdmin, 'auto').backend, 'ebpf');
    const neither = host({ packetSocket: false });
    neither.features.tcProgram = no('loading a TC program was refused (EPERM)');
    assert.deepEqual(attachModes(neither), []);
    assert.match(readiness(neither, 'ebpf').reason, /no way to attach/);
  });
});

describe('tls decision', function () {
  const report = HOSTS['bpf() ENOSYS (seccomp)'];

  it('normalises every accepted spelling', function () {
    assert.equal(tlsMode(undefined), 'off');
    assert.equal(tlsMode(false), 'off');
    assert.equal(tlsMode(true), 'auto');
    assert.equal(tlsMode('auto'), 'auto');
    assert.equal(tlsMode('required'), 'required');
    assert.equal(tlsMode({}), 'auto');
    assert.equal(tlsMode({ mode: 'required' }), 'required');
  });

  it('rejects anything else with ERR_INVALID_OPTION', function () {
    for (const bad of ['yes', 1, null, [], { mode: 'always' }]) {
      assert.throws(() => tlsMode(bad), { code: 'ERR_INVALID_OPTION' }, JSON.stringify(bad));
    }
  });

  it("'auto' on raw-socket stays off with the probe's reason", function () {
    const t = decideTls('auto', 'raw-socket', report);
    assert.equal(t.active, false);
    assert.match(t.reason, /eBPF backend/);
    assert.match(t.reason, /bpf refused \(ENOSYS\)/);
  });

  it('on the eBPF backend, TLS follows the uprobe probe', function () {
    assert.equal(decideTls('auto', 'ebpf', HOSTS['eBPF-capable']).active, true);
    const noUprobes = host({ uprobe: false });
    assert.match(decideTls('auto', 'ebpf', noUprobes).reason, /uprobes cannot be attached here: uprobes need CAP_SYS_ADMIN/);
    assert.throws(() => decideTls('required', 'ebpf', noUprobes), { code: 'ERR_TLS_UNAVAILABLE', message: /CAP_SYS_ADMIN/ });
  });

  it("'required' on raw-socket is ERR_TLS_UNAVAILABLE naming the probe result", function () {
    assert.throws(() => decideTls('required', 'raw-socket', report), {
      code: 'ERR_TLS_UNAVAILABLE',
      message: /bpf refused \(ENOSYS\)/,
    });
  });
});
