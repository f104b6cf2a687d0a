'use strict';
// Classic BPF corners where eBPF differs, found by the translator's fuzzer
// (test/fuzz/filter_translator.cc): the translation must give libpcap's verdict, or
// refuse the program. Hand-made programs, since libpcap's compiler writes none of these.
const assert = require('node:assert/strict');
const { native } = require('../dist/native');
const { requirePrivileges } = require('./helpers/privileged');

const insn = (code, k, jt = 0, jf = 0) => {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(code, 0);
  b.writeUInt8(jt, 2);
  b.writeUInt8(jf, 3);
  b.writeUInt32LE(k >>> 0, 4);
  return b;
};
const LD_IMM = 0x00,
  LDX_IMM = 0x01,
  LDB_IND = 0x50,
  LSH_X = 0x6c,
  RSH_X = 0x7c,
  RET_A = 0x16;
const FORMS = ['tc-direct', 'tc'];
const frame = Buffer.concat([Buffer.alloc(12, 2), Buffer.from([0x08, 0x00, 0x45]), Buffer.alloc(45)]);

const PROGRAMS = {
  'a shift left by X of 32 or more gives 0': [insn(LD_IMM, 1), insn(LDX_IMM, 40), insn(LSH_X, 0), insn(RET_A, 0)],
  'a shift right by X of 32 or more gives 0': [insn(LD_IMM, 0x80000000), insn(LDX_IMM, 33), insn(RSH_X, 0), insn(RET_A, 0)],
  'a shift by X under 32 shifts': [insn(LD_IMM, 1), insn(LDX_IMM, 9), insn(LSH_X, 0), insn(RET_A, 0)],
  'an indexed load whose X + k passes 4 GiB rejects': [insn(LDX_IMM, 0xffffff00), insn(LDB_IND, 0x10e), insn(RET_A, 0)],
  'an indexed load within the packet reads it': [insn(LDX_IMM, 4), insn(LDB_IND, 10), insn(RET_A, 0)],
};

describe('filter translation: where classic BPF and eBPF differ', function () {
  before(async function () {
    await requirePrivileges(this);
  });

  for (const [what, program] of Object.entries(PROGRAMS)) {
    it(`${what}, as in libpcap`, function () {
      const code = Buffer.concat(program);
      const expected = native().matchFilter(code, frame, frame.length);
      for (const form of FORMS) assert.deepEqual(native().filterVerdicts(code, [frame], form), [expected], form);
    });
  }

  it('an opcode with bits classic BPF does not define is refused, not read as the nearest one', function () {
    const code = Buffer.concat([insn(0x206, 0)]); // BPF_RET with an unknown bit
    for (const form of [...FORMS, 'socket'])
      assert.throws(() => native().filterVerdicts(code, [frame], form), /no eBPF form \(code 0x206\)/);
  });
});
