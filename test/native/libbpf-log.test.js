'use strict';
// libbpf's messages are collected per thread and kept whole: two threads that load
// objects the verifier refuses at the same time each get their own verifier log, to its
// last line (the refusal), not another thread's and not cut at 1 KiB.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
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
    for (const name of ['tw_log_check_a', 'tw_log_check_b']) {
      execFileSync('clang', [
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
        path.join(dir, `${name}.o`),
      ]);
    }
    const check = path.join(dir, 'check');
    execFileSync('g++', [
      '-std=c++17',
      '-O1',
      `-I${deps}/include`,
      path.join(__dirname, 'libbpf_log_check.cc'),
      path.join(root, 'native', 'common', 'libbpf_log.cc'),
      ...['libbpf', 'libelf', 'libz'].map((l) => `${deps}/lib/${l}.a`),
      '-lpthread',
      '-o',
      check,
    ]);
    const out = ['a', 'b'].map((x) => path.join(dir, `${x}.log`));
    execFileSync(check, [path.join(dir, 'tw_log_check_a.o'), path.join(dir, 'tw_log_check_b.o'), ...out]);
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
