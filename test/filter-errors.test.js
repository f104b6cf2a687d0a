'use strict';
// Filters that cannot be what they say: each is ERR_BAD_FILTER, on every live backend
// and on replay, with the real reason.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openCapturer } = require('..');
const { requireVariant } = require('./helpers/privileged');
const { pcapFile, udpFrame } = require('./helpers/files');

const VARIANTS = [{ backend: 'raw-socket' }, { backend: 'ebpf', attach: 'tcx' }, { backend: 'ebpf', attach: 'socket' }];

describe('filters that are refused', function () {
  let file;

  before(function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-filter-errors-'));
    file = path.join(dir, 'udp.pcap');
    fs.writeFileSync(file, pcapFile({ packets: [{ seconds: 1, fraction: 0, data: udpFrame(Buffer.from('x'), { dport: 7 }) }] }));
  });

  after(function () {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  // Opens and, should it open after all, closes: a failing test leaves nothing running.
  const opening = (options) => async () => (await openCapturer(options)).close();
  const nulAt = (offset) => (err) => {
    assert.equal(err.code, 'ERR_BAD_FILTER');
    assert.match(err.message, new RegExp(`NUL character \\(at offset ${offset}\\)`));
    return true;
  };

  for (const filter of ['udp\0 and port 1', '\0']) {
    const shown = JSON.stringify(filter);
    it(`a NUL inside the expression (${shown}) is ERR_BAD_FILTER on replay`, async function () {
      await assert.rejects(opening({ file, filter }), nulAt(filter.indexOf('\0')));
    });

    for (const variant of VARIANTS) {
      it(`a NUL inside the expression (${shown}) is ERR_BAD_FILTER live (${Object.values(variant).join(', ')})`, async function () {
        await requireVariant(this, variant);
        await assert.rejects(opening({ ...variant, interfaces: ['lo'], filter }), nulAt(filter.indexOf('\0')));
      });
    }
  }
});

describe('filter errors name the reason and quote a bounded part of the expression', function () {
  // 2,000 byte comparisons: a valid expression libpcap compiles quickly to about 5,000
  // instructions, more than the kernel's classic BPF checker takes (4,096).
  const long = Array.from({ length: 2000 }, (_, i) => `ether[${i % 1400}] = ${i & 255}`).join(' or ');
  // 100 KB of expression with a mistake at its end.
  const huge = `${'udp and '.repeat(12800)}prt 53`;

  it('raw-socket: a filter too long for the kernel says so, with the instruction count', async function () {
    await requireVariant(this, { backend: 'raw-socket' });
    await assert.rejects(openCapturer({ backend: 'raw-socket', interfaces: ['lo'], filter: long }), (err) => {
      assert.equal(err.code, 'ERR_BAD_FILTER');
      assert.match(err.message, /it compiles to \d{4} instructions, and at most 4096 are taken/);
      assert.doesNotMatch(err.message, /protochain/);
      assert.ok(err.message.length < 600, `a bounded message; got ${err.message.length} characters`);
      assert.match(err.message, new RegExp(`… \\(${long.length} characters\\)`));
      return true;
    });
  });

  it('raw-socket: the kernel refusing a classic program is EFILTER with its errno (what lib/ tells a bad filter by)', async function () {
    await requireVariant(this, { backend: 'raw-socket' });
    const { native } = require('../dist/native');
    const unknownOpcode = Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]);
    const options = {
      ifindex: 1,
      filter: unknownOpcode,
      blockSize: 65536,
      blockCount: 2,
      blockTimeoutMs: 10,
      snaplen: 65535,
      promiscuous: false,
    };
    assert.throws(() => new (native().PacketRing)(options, () => {}), {
      nativeCode: 'EFILTER',
      errno: os.constants.errno.EINVAL,
      syscall: 'setsockopt(SO_ATTACH_FILTER)',
    });
  });

  it('raw-socket: a loop (protochain) is refused as such', async function () {
    await requireVariant(this, { backend: 'raw-socket' });
    await assert.rejects(openCapturer({ backend: 'raw-socket', interfaces: ['lo'], filter: 'ip protochain 17' }), {
      code: 'ERR_BAD_FILTER',
      message: /"ip protochain 17": it jumps backwards \(a loop, as protochain makes\)/,
    });
  });

  for (const where of ['raw-socket', 'ebpf', 'file']) {
    it(`a mistake at the end of 100 KB of expression quotes its first 200 characters (${where})`, async function () {
      let options;
      if (where === 'file') {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-filter-errors-'));
        options = { file: path.join(dir, 'one.pcap') };
        fs.writeFileSync(
          options.file,
          pcapFile({ packets: [{ seconds: 1, fraction: 0, data: udpFrame(Buffer.from('x'), { dport: 7 }) }] }),
        );
      } else {
        await requireVariant(this, { backend: where });
        options = { backend: where, interfaces: ['lo'] };
      }
      try {
        await assert.rejects(openCapturer({ ...options, filter: huge }), (err) => {
          assert.equal(err.code, 'ERR_BAD_FILTER');
          assert.match(err.message, /syntax error/);
          assert.ok(err.message.includes(JSON.stringify(huge.slice(0, 200))));
          assert.ok(err.message.length < 600, `a bounded message; got ${err.message.length} characters`);
          return true;
        });
      } finally {
        if (options.file) fs.rmSync(path.dirname(options.file), { recursive: true, force: true });
      }
    });
  }
});
