'use strict';
// The fuzzers, each for a bounded time (scripts/memcheck.sh fuzz-filter, fuzz-readers):
// the classic-to-eBPF translator under libFuzzer (every program it emits loads, or is
// refused with ERR_BAD_FILTER; verdicts equal libpcap's bpf_filter()), and the pcap and
// pcapng readers. Each starts from its seed corpus in test/fuzz/corpus; a failure
// prints the input that caused it.
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { requirePrivileges, requireTools } = require('../helpers/privileged');

const MEMCHECK = path.join(__dirname, '..', '..', 'scripts', 'memcheck.sh');
const FILTER_SECONDS = Number(process.env.TAPWIRE_FUZZ_FILTER_SECONDS ?? 30);
const READERS_SECONDS = Number(process.env.TAPWIRE_FUZZ_READERS_SECONDS ?? 20);

describe('fuzzers', function () {
  this.timeout(10 * 60_000);

  it(`the filter translator (libFuzzer, ${FILTER_SECONDS} s): every program loads or is refused, with libpcap's verdicts`, async function () {
    await requirePrivileges(this);
    requireTools(this, ['clang++']);
    const r = spawnSync('bash', [MEMCHECK, 'fuzz-filter', String(FILTER_SECONDS)], { encoding: 'utf8' });
    const runs = /stat::number_of_executed_units:\s+(\d+)/.exec(r.stdout);
    const rate = /stat::average_exec_per_sec:\s+(\d+)/.exec(r.stdout);
    assert.equal(r.status, 0, `${r.stdout.slice(-8000)}\n${r.stderr.slice(-8000)}`);
    assert.ok(runs && Number(runs[1]) > 0, `libFuzzer ran nothing:\n${r.stdout.slice(-4000)}`);
    console.log(`      ${runs[1]} inputs, ${rate?.[1]} per second`);
  });

  it(`the pcap and pcapng readers (${READERS_SECONDS} s): only coded errors, the same result in any chunking`, function () {
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'fuzz', 'readers.js'), String(READERS_SECONDS)], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const done = /(\d+) inputs \((\d+) replayed\)/.exec(r.stdout);
    assert.ok(done && Number(done[1]) > 0, r.stdout);
    console.log(`      ${r.stdout.trim()}`);
  });
});
