'use strict';
// The A64 decoder the key log search reads arm64 libraries with (lib/plugins/tls/arm64.ts),
// on instruction words of Debian 12's arm64 libssl.so.3 whose meaning objdump gives
// (the call of ssl_log_secret with the CLIENT_RANDOM label, and its thunk). The whole
// search runs on an arm64 kernel in the package check (scripts/package-check/arm64-guest.sh).
const assert = require('node:assert/strict');
const { decodeA64, branches } = require('../dist/plugins/tls/arm64');

describe('A64 decoding for the key log search', function () {
  it('forms addresses: ADRP to a page, ADD of the low bits', function () {
    assert.deepEqual(decodeA64(0xf00000a1, 0x72960), { op: 'adrp', rd: 1, value: 0x89000 });
    assert.deepEqual(decodeA64(0x91364021, 0x72968), { op: 'add', rd: 1, rn: 1, imm: 0xd90 });
    // ADRP backwards, and ADD with its immediate shifted by 12.
    assert.deepEqual(decodeA64(0x90fffff0, 0x10000), { op: 'adrp', rd: 16, value: 0xc000 });
    assert.deepEqual(decodeA64(0x91400421, 0), { op: 'add', rd: 1, rn: 1, imm: 0x1000 });
  });

  it('moves registers and immediates, and branches directly', function () {
    assert.deepEqual(decodeA64(0xaa0103e4, 0x3ab64), { op: 'mov', rd: 4, rm: 1 });
    assert.deepEqual(decodeA64(0xd2800403, 0x3ab74), { op: 'movz', rd: 3, imm: 32 });
    assert.deepEqual(decodeA64(0x52806061, 0x7294c), { op: 'movz', rd: 1, imm: 0x303 });
    assert.deepEqual(decodeA64(0x17ffe1fc, 0x3ab80), { op: 'b', target: 0x33370 });
    assert.deepEqual(decodeA64(0x97ff207c, 0x72974), { op: 'bl', target: 0x3ab64 });
  });

  it('anything else is other; branches, returns and compare-and-branch count as branching, hints do not', function () {
    assert.deepEqual(decodeA64(0xf9400463, 0), { op: 'other', word: 0xf9400463 }); // ldr x3, [x3, #8]
    assert.deepEqual(decodeA64(0x91014062, 0).op, 'add'); // add x2, x3, #0x50
    for (const word of [0xd65f03c0 /* ret */, 0x340007c0 /* cbz */, 0x5400012c /* b.gt */, 0x371800c1 /* tbnz */, 0x97ff207c /* bl */]) {
      assert.equal(branches(word), true, word.toString(16));
    }
    for (const word of [0xd503201f /* nop */, 0xd503233f /* paciasp */, 0xd503245f /* bti c */, 0xaa0103e4, 0xf9400463]) {
      assert.equal(branches(word), false, word.toString(16));
    }
  });
});
