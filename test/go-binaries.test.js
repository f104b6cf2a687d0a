'use strict';
// Where the TLS plugin hooks a Go binary, checked against Go's own disassembler (`go tool
// objdump`) and readelf: the entry of crypto/tls's (*Conn).Read, Write and Close and
// every return instruction of Read, on amd64 and arm64 builds, also where the
// symbol table was stripped. No kernel is involved: the hooks run in test/tls-go.test.js.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { requireTools } = require('./helpers/privileged');
const { goPeers } = require('./helpers/tls-peers');
const { goTarget } = require('../dist/plugins/tls/targets');

const FUNCTIONS = ['crypto/tls.(*Conn).Read', 'crypto/tls.(*Conn).Write', 'crypto/tls.(*Conn).Close'];

/** Each function's entry and RET addresses, as `go tool objdump` lists them. */
function disassembled(file) {
  const out = new Map();
  for (const name of FUNCTIONS) {
    const pattern = `^${name.replace(/[.()*]/g, (c) => `\\${c}`)}$`;
    const text = execFileSync('go', ['tool', 'objdump', '-s', pattern, file], { encoding: 'utf8', env: { ...process.env, HOME: '/tmp' } });
    const addresses = [...text.matchAll(/^\s+\S+\s+0x([0-9a-f]+)\s+[0-9a-f]+\s+(\S+)/gm)];
    assert.ok(addresses.length > 0, `${name} in ${file}`);
    out.set(name, {
      entry: parseInt(addresses[0][1], 16),
      returns: addresses.filter((m) => m[2] === 'RET').map((m) => parseInt(m[1], 16)),
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
    it(`${build} build: the entries and every return go tool objdump shows, at readelf's file offsets`, function () {
      const target = goTarget(peers[build]);
      assert.match(target.version, /^go1\.\d+/);
      const want = disassembled(peers[build]);
      for (const name of FUNCTIONS) {
        const hooks = target.hooks.filter((h) => h.name === name);
        const { entry, returns } = want.get(name);
        assert.deepEqual(
          hooks.filter((h) => h.program !== 'return').map((h) => h.address),
          [entry],
        );
        const rets = hooks.filter((h) => h.program === 'return').map((h) => h.address);
        // Read is copied at its returns; Write at its entry, Close only ends the stream.
        assert.deepEqual(rets, name.endsWith('Read') ? returns : [], `${name}'s returns`);
        if (name.endsWith('Read')) assert.ok(rets.length > 0);
      }
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
    assert.deepEqual(goTarget(peers.stripped).hooks, goTarget(peers.default).hooks);
  });

  it('anything else is refused with the reason', function () {
    assert.throws(() => goTarget('/bin/sh'), /is not a Go binary/);
    assert.throws(() => goTarget(__filename), /not an ELF file/);
  });
});
