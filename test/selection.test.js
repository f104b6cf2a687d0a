'use strict';
// Selection is a pure function of (probe report, backend option): tables of reports for
// every kind of host, each with the result written out. That no TLS value changes the
// backend is proven where it matters, through openCapturer on real reduced hosts
// (test/hosts.test.js); here, that TLS is decided from the selection, after it.
const assert = require('node:assert/strict');
const { selectBackend, readiness, attachModes } = require('../dist/selection');
const { decideTls, tlsMode } = require('../dist/tls');

const ok = (reason = 'ok') => ({ ok: true, reason, errno: 0 });
const no = (reason, errno = 1) => ({ ok: false, reason, errno });

function host({ bpf = true, packetSocket = true, uprobe = true, tcx = true, btf = true } = {}) {
  const bpfResult = bpf === true ? ok() : no(`bpf refused (${bpf})`, bpf === 'ENOSYS' ? 38 : 1);
  return {
    kernelRelease: '6.18.0-test',
    capabilities: {
      CAP_BPF: bpf === true,
      CAP_PERFMON: bpf === true,
      CAP_SYS_ADMIN: bpf === true,
      CAP_NET_ADMIN: true,
      CAP_NET_RAW: packetSocket,
    },
    features: {
      bpf: bpfResult,
      ringBuffer: bpfResult,
      tcProgram: bpfResult,
      tcx: tcx ? ok() : no('no tcx attach points (EINVAL): tcx needs Linux 6.6 or later', 22),
      packetSocket: packetSocket ? ok() : no('AF_PACKET refused: grant CAP_NET_RAW'),
      uprobe: uprobe ? ok() : no('uprobes need CAP_SYS_ADMIN'),
      btf: btf ? ok() : no('no kernel BTF (/sys/kernel/btf/vmlinux missing): kernel without CONFIG_DEBUG_INFO_BTF', 2),
      socketCapture: bpf === true ? ok() : no(`not tried: bpf refused (${bpf})`),
      tcxCapture: bpf === true && tcx ? ok() : no('not tried'),
    },
  };
}

const HOSTS = {
  'eBPF-capable': host(),
  'before Linux 6.6 (no tcx)': host({ tcx: false }),
  'no CAP_BPF/CAP_SYS_ADMIN (EPERM)': host({ bpf: 'EPERM', uprobe: false }),
  'bpf() ENOSYS (seccomp)': host({ bpf: 'ENOSYS' }),
  'no CAP_NET_RAW': host({ packetSocket: false }),
  'nothing at all': host({ bpf: 'EPERM', packetSocket: false, uprobe: false }),
};

// What each host gets for each `backend` value: the backend, then every attempt
// openCapturer makes in order; or the error code.
const EXPECTED = {
  'eBPF-capable': { auto: 'ebpf tcx,socket,raw', ebpf: 'ebpf tcx,socket', 'raw-socket': 'raw-socket raw' },
  'before Linux 6.6 (no tcx)': { auto: 'ebpf socket,raw', ebpf: 'ebpf socket', 'raw-socket': 'raw-socket raw' },
  'no CAP_BPF/CAP_SYS_ADMIN (EPERM)': { auto: 'raw-socket raw', ebpf: 'ERR_BACKEND_UNAVAILABLE', 'raw-socket': 'raw-socket raw' },
  'bpf() ENOSYS (seccomp)': { auto: 'raw-socket raw', ebpf: 'ERR_BACKEND_UNAVAILABLE', 'raw-socket': 'raw-socket raw' },
  // No packet socket: the eBPF backend can still attach at tcx.
  'no CAP_NET_RAW': { auto: 'ebpf tcx', ebpf: 'ebpf tcx', 'raw-socket': 'ERR_BACKEND_UNAVAILABLE' },
  'nothing at all': { auto: 'ERR_NO_BACKEND', ebpf: 'ERR_BACKEND_UNAVAILABLE', 'raw-socket': 'ERR_BACKEND_UNAVAILABLE' },
};

function outcome(report, backend) {
  try {
    const s = selectBackend(report, backend);
    return `${s.backend} ${s.attempts.map((a) => a.attach ?? 'raw').join(',')}`;
  } catch (e) {
    return e.code;
  }
}

describe('backend selection', function () {
  for (const [hostName, report] of Object.entries(HOSTS)) {
    for (const [backend, expected] of Object.entries(EXPECTED[hostName])) {
      it(`${hostName}, backend '${backend}': ${expected}`, function () {
        assert.equal(outcome(report, backend), expected);
      });
    }
  }

  it("the verifier refusing the probe's capture programs moves 'auto' on, in its own words", function () {
    const refused = host();
    refused.features.tcxCapture = no('the kernel refused the tcx capture program tw_tc_copy (EACCES): R3 min value is outside', 13);
    refused.features.socketCapture = no('the kernel refused the socket capture program tw_sock_copy (EACCES): R3 min value is outside', 13);
    const s = selectBackend(refused, 'auto');
    assert.equal(s.backend, 'raw-socket');
    assert.deepEqual(s.attempts, [{ backend: 'raw-socket' }]);
    assert.match(s.reasons[0], /^ebpf: no way to attach: tcx: .*tw_tc_copy.*R3 min value.*; socket filter: .*tw_sock_copy/);
    assert.throws(() => selectBackend(refused, 'ebpf'), { code: 'ERR_BACKEND_UNAVAILABLE', message: /R3 min value/ });
    refused.features.socketCapture = ok();
    assert.equal(outcome(refused, 'auto'), 'ebpf socket,raw');
  });

  it('a forced attach mode is the only eBPF attempt, and one the probe rules out is an error', function () {
    assert.deepEqual(selectBackend(HOSTS['eBPF-capable'], 'ebpf', 'socket').attempts, [{ backend: 'ebpf', attach: 'socket' }]);
    assert.throws(() => selectBackend(HOSTS['before Linux 6.6 (no tcx)'], 'ebpf', 'tcx'), {
      code: 'ERR_BACKEND_UNAVAILABLE',
      message: /tcx needs Linux 6.6/,
    });
  });

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
    assert.throws(
      () => selectBackend(HOSTS['nothing at all'], 'auto'),
      (e) => {
        assert.equal(e.code, 'ERR_NO_BACKEND');
        assert.match(e.message, /ebpf: /);
        assert.match(e.message, /raw-socket: .*CAP_NET_RAW/);
        return true;
      },
    );
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
  const onRawSocket = selectBackend(report, 'auto');
  const onEbpf = { backend: 'ebpf', reasons: ['ebpf: BPF programs and ring buffers work; attach by tcx or socket'] };

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
    const t = decideTls('auto', onRawSocket, report);
    assert.equal(t.active, false);
    assert.match(t.reason, /eBPF backend/);
    assert.match(t.reason, /bpf refused \(ENOSYS\)/);
  });

  it('on the eBPF backend, TLS follows the uprobe probe', function () {
    assert.equal(decideTls('auto', onEbpf, HOSTS['eBPF-capable']).active, true);
    const noUprobes = host({ uprobe: false });
    assert.match(decideTls('auto', onEbpf, noUprobes).reason, /uprobes cannot be attached here: uprobes need CAP_SYS_ADMIN/);
    assert.throws(() => decideTls('required', onEbpf, noUprobes), { code: 'ERR_TLS_UNAVAILABLE', message: /CAP_SYS_ADMIN/ });
  });

  it('on the eBPF backend without kernel BTF, TLS stays off and says so; the backend is not touched', function () {
    const noBtf = host({ btf: false });
    const before = JSON.stringify(onEbpf);
    const t = decideTls('auto', onEbpf, noBtf);
    assert.equal(t.active, false);
    assert.match(t.reason, /TLS capture is off: the TLS programs need kernel BTF: no kernel BTF/);
    assert.throws(() => decideTls('required', onEbpf, noBtf), { code: 'ERR_TLS_UNAVAILABLE', message: /kernel BTF/ });
    assert.equal(JSON.stringify(onEbpf), before);
  });

  it("'required' on raw-socket is ERR_TLS_UNAVAILABLE naming the probe result", function () {
    assert.throws(() => decideTls('required', onRawSocket, report), {
      code: 'ERR_TLS_UNAVAILABLE',
      message: /bpf refused \(ENOSYS\)/,
    });
  });

  it('on raw-socket after the eBPF backend failed to start, says what the kernel refused', function () {
    const fellBack = {
      backend: 'raw-socket',
      reasons: [
        'ebpf: BPF programs and ring buffers work; attach by socket',
        'ebpf (socket) could not start, so raw-socket is tried: the kernel refused tw_filter (EACCES)',
      ],
    };
    assert.match(decideTls('auto', fellBack, HOSTS['eBPF-capable']).reason, /raw-socket \(ebpf \(socket\) could not start.*EACCES/);
    assert.throws(() => decideTls('required', fellBack, HOSTS['eBPF-capable']), { code: 'ERR_TLS_UNAVAILABLE', message: /tw_filter/ });
  });
});
