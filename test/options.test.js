'use strict';
// Bad input gets a TapwireError with a stable code before anything touches the kernel.
const assert = require('node:assert/strict');
const { openCapturer, probe, TapwireError } = require('..');

function rejectsWith(options, code, message) {
  return assert.rejects(openCapturer(options), (e) => {
    assert.ok(e instanceof TapwireError, `${e} is not a TapwireError`);
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('openCapturer input checks', function () {
  it('rejects unknown options', () => rejectsWith({ iface: 'lo' }, 'ERR_INVALID_OPTION', /^unknown option "iface"$/));
  it('says which option an unknown one is close to', async () => {
    await rejectsWith({ interface: 'lo' }, 'ERR_INVALID_OPTION', /^unknown option "interface": did you mean "interfaces"\?$/);
    await rejectsWith({ buffersize: 1 << 20 }, 'ERR_INVALID_OPTION', /did you mean "bufferSize"\?$/);
    await rejectsWith({ file: '/dev/null', snaplenn: 96 }, 'ERR_INVALID_OPTION', /did you mean "snaplen"\?$/);
  });
  it('rejects an unknown backend', () => rejectsWith({ backend: 'pcap' }, 'ERR_INVALID_OPTION', /backend must be one of/));
  it('rejects an unknown tls value', () => rejectsWith({ tls: 'yes' }, 'ERR_INVALID_OPTION', /tls must be/));
  it('rejects snaplen out of range', async () => {
    for (const snaplen of [0, -1, 262145, 1.5, '100']) await rejectsWith({ snaplen }, 'ERR_INVALID_OPTION', /snaplen/);
  });
  it('rejects bad interface lists', async () => {
    for (const interfaces of [[], [''], 42, [1]]) await rejectsWith({ interfaces }, 'ERR_INVALID_OPTION', /interfaces/);
  });
  it('rejects bad sizes and timeouts', async () => {
    await rejectsWith({ bufferSize: 1024 }, 'ERR_INVALID_OPTION', /bufferSize/);
    await rejectsWith({ batchTimeout: 0 }, 'ERR_INVALID_OPTION', /batchTimeout/);
    await rejectsWith({ highWaterMark: -1 }, 'ERR_INVALID_OPTION', /highWaterMark/);
  });
  it('rejects promiscuous mode without named interfaces', () =>
    rejectsWith({ promiscuous: true }, 'ERR_INVALID_OPTION', /promiscuous needs named interfaces/));
  it('rejects a non-AbortSignal signal', () => rejectsWith({ signal: {} }, 'ERR_INVALID_OPTION', /AbortSignal/));
});

describe('input checks that need a capture-capable host', function () {
  before(async function () {
    const report = await probe();
    if (!report.features.packetSocket.ok) {
      if (process.env.CI === 'true') throw new Error(`cannot run under CI: ${report.features.packetSocket.reason}`);
      this.skip();
    }
  });

  it('names an unknown interface', () => rejectsWith({ interfaces: ['tw-no-such0'] }, 'ERR_NO_SUCH_INTERFACE', /"tw-no-such0"/));
  it('gives libpcap’s message for a bad filter', () =>
    rejectsWith({ interfaces: ['lo'], filter: 'udp prt 53' }, 'ERR_BAD_FILTER', /syntax error/));
  it('rejects a filter that cannot match this link type', () =>
    rejectsWith({ interfaces: ['lo'], filter: 'wlan type mgt' }, 'ERR_BAD_FILTER'));
});

describe('probe()', function () {
  it('reports every feature with a reason, and is cached', async function () {
    const first = await probe();
    assert.equal(await probe(), first);
    for (const [name, f] of Object.entries(first.features)) {
      assert.equal(typeof f.ok, 'boolean', name);
      assert.ok(f.reason.length > 0, name);
      assert.equal(typeof f.errno, 'number', name);
    }
    assert.match(first.kernelRelease, /^\d+\.\d+/);
  });
});
