'use strict';
// libbpf's messages are collected per thread and kept whole: two threads that load
// objects the verifier refuses at the same time each get their own verifier log, to its
// last line (the refusal), not another thread's and not cut at 1 KiB.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { built } = require('../helpers/built');
const { requirePrivileges } = require('../helpers/privileged');

const root = path.join(__dirname, '..', '..');

describe('libbpf log (native/common/libbpf_log.cc)', function () {
  this.timeout(Math.max(this.timeout(), 120000)); // never below the run's own (emulated kernels are slower)
  let dir;

  before(async function () {
    await requirePrivileges(this, ['clang', 'g++']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-libbpf-log-'));
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives each thread the whole of its own verifier log', function () {
    // The static libraries the addon links (libbpf, libelf, zlib).
    const deps = execFileSync('bash', [path.join(root, 'scripts', 'static-deps.sh')], { encoding: 'utf8' }).trim();
    const arch = execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim();
    const libs = ['libbpf', 'libelf', 'libz'].map((l) => `${deps}/lib/${l}.a`);
    const bpfArgs = (name, out) => [
      '-O2',
      '-g',
      '-target',
      'bpf',
      `-DNAME=${name}`,
      `-I${deps}/include`,
      `-I/usr/include/${arch}`,
      '-c',
      path.join(__dirname, 'rejected.bpf.c'),
      '-o',
      out,
    ];
    const checkArgs = (out) => [
      '-std=c++17',
      '-O1',
      `-I${deps}/include`,
      path.join(__dirname, 'libbpf_log_check.cc'),
      path.join(root, 'native', 'common', 'libbpf_log.cc'),
      ...libs,
      '-lpthread',
      '-o',
      out,
    ];
    const sources = [
      path.join(__dirname, 'rejected.bpf.c'),
      path.join(__dirname, 'libbpf_log_check.cc'),
      path.join(root, 'native', 'common', 'libbpf_log.cc'),
      path.join(root, 'native', 'common', 'libbpf_log.h'),
      ...libs,
    ];
    const programs = built('libbpf-log', sources, JSON.stringify([bpfArgs('N', 'O'), checkArgs('O')]), (into) => {
      for (const name of ['tw_log_check_a', 'tw_log_check_b']) execFileSync('clang', bpfArgs(name, path.join(into, `${name}.o`)));
      execFileSync('g++', checkArgs(path.join(into, 'check')));
    });
    const out = ['a', 'b'].map((x) => path.join(dir, `${x}.log`));
    execFileSync(path.join(programs, 'check'), [path.join(programs, 'tw_log_check_a.o'), path.join(programs, 'tw_log_check_b.o'), ...out]);
    const [a, b] = out.map((f) => fs.readFileSync(f, 'utf8'));
    for (const [mine, theirs, text] of [
      ['a', 'b', a],
      ['b', 'a', b],
    ]) {
      assert.match(text, new RegExp(`prog 'tw_log_check_${mine}'`), text);
      assert.doesNotMatch(text, new RegExp(`tw_log_check_${theirs}`));
      // The verifier's reason and its closing count are the log's last lines.
      assert.match(text, /invalid access to map value/);
      assert.match(text, /processed \d+ insns/);
      assert.match(text, /-- END PROG LOAD LOG --/);
      assert.ok(text.length > 4096, `a whole log is several KiB; got ${text.length} bytes`);
    }
  });
});
