'use strict';
// Where the TLS plugin hooks a Go binary, checked against Go's own disassembler (`go tool
// objdump`) and readelf: the stack check's branch of crypto/tls's (*Conn).Read and
// Write and of (*Config).writeKeyLog, Read's call to runtime.memmove and Close's
// entry, on amd64 and arm64 builds, also where the symbol table was stripped. No
// kernel is involved: the hooks run in test/tls-go.test.js.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { requireTools } = require('./helpers/privileged');
const { goPeers } = require('./helpers/tls-peers');
const { goTarget } = require('../dist/plugins/tls/targets');

const FUNCTIONS = ['crypto/tls.(*Conn).Read', 'crypto/tls.(*Conn).Write', 'crypto/tls.(*Conn).Close', 'crypto/tls.(*Config).writeKeyLog'];

/**
 * Each function's entry, its first branch (the stack check's, JBE or BLS) and its
 * calls to runtime.memmove, as `go tool objdump` lists them.
 */
function disassembled(file) {
  const out = new Map();
  for (const name of FUNCTIONS) {
    const pattern = `^${name.replace(/[.()*]/g, (c) => `\\${c}`)}$`;
    const text = execFileSync('go', ['tool', 'objdump', '-s', pattern, file], { encoding: 'utf8', env: { ...process.env, HOME: '/tmp' } });
    const lines = [...text.matchAll(/^\s+\S+\s+0x([0-9a-f]+)\s+[0-9a-f]+\s+(\S+)\s*(\S*)/gm)].map((m) => ({
      address: parseInt(m[1], 16),
      op: m[2],
      arg: m[3],
    }));
    assert.ok(lines.length > 0, `${name} in ${file}`);
    const branch = lines.find((l) => /^(J[A-Z]+|B[A-Z.]*|CALL|RET)$/.test(l.op));
    out.set(name, {
      entry: lines[0].address,
      check: /^(JBE|BLS)$/.test(branch.op) ? branch.address : null,
      copies: lines.filter((l) => /^(CALL|BL)$/.test(l.op) && l.arg === 'runtime.memmove(SB)').map((l) => l.address),
    });
  }
  return out;
}

/** readelf's loadable segments: [vaddr, offset, filesz]. */
function segments(file) {
  const text = execFileSync('readelf', ['-lW', file], { encoding: 'utf8' });
  return [...text.matchAll(/^\s+LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/gm)].map((m) => [
    parseInt(m[2], 16),
    parseInt(m[1], 16),
    parseInt(m[3], 16),
  ]);
}

describe('Go binaries: where the TLS plugin hooks them', function () {
  let peers;
  before(function () {
    this.timeout(600000);
    requireTools(this, ['go', 'readelf']);
    peers = goPeers();
  });

  for (const build of ['default', 'pie', 'static', 'arm64']) {
    it(`${build} build: the stack checks, the copy and the entry go tool objdump shows, at readelf's file offsets`, function () {
      const target = goTarget(peers[build], true);
      assert.match(target.version, /^go1\.\d+/);
      const want = disassembled(peers[build]);
      const [read, write, close, keylog] = FUNCTIONS.map((name) => want.get(name));
      const where = (name, program) => target.hooks.filter((h) => h.name === name && h.program === program).map((h) => h.address);
      assert.ok(read.check && write.check, 'objdump shows both stack checks');
      assert.deepEqual(where(FUNCTIONS[0], 'read'), [read.check]);
      assert.equal(read.copies.length, 1, "Read's one copy");
      assert.deepEqual(where(FUNCTIONS[0], 'copy'), read.copies);
      assert.deepEqual(where(FUNCTIONS[1], 'write'), [write.check]);
      assert.deepEqual(where(FUNCTIONS[2], 'close'), [close.entry]);
      assert.deepEqual(where(FUNCTIONS[3], 'keylog'), [keylog.check]);
      assert.equal(target.hooks.length, 5);
      const segs = segments(peers[build]);
      for (const h of target.hooks) {
        const seg = segs.find(([vaddr, , size]) => h.address >= vaddr && h.address < vaddr + size);
        assert.ok(seg, `0x${h.address.toString(16)} in a loaded segment`);
        assert.equal(h.offset, h.address - seg[0] + seg[1]);
      }
    });
  }

  it('a stripped build (-s -w) has no symbols, and the same hooks from its pc-line table', function () {
    assert.doesNotMatch(execFileSync('readelf', ['-SW', peers.stripped], { encoding: 'utf8' }), /\.symtab/);
    assert.deepEqual(goTarget(peers.stripped, true).hooks, goTarget(peers.default, true).hooks);
    // Without keys, writeKeyLog is not hooked.
    assert.ok(goTarget(peers.default).hooks.every((h) => h.program !== 'keylog'));
  });

  it('anything else is refused with the reason', function () {
    assert.throws(() => goTarget('/bin/sh'), /is not a Go binary/);
    assert.throws(() => goTarget(__filename), /not an ELF file/);
  });
});
