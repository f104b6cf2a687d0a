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

const VARIANTS = [
  { backend: 'raw-socket' },
  { backend: 'ebpf', attach: 'tcx' },
  { backend: 'ebpf', attach: 'socket' },
];

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
