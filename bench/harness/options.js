'use strict';
// What can be run (scenarios, capturers) and the command line that picks them.
const path = require('node:path');
const { fail } = require('./log');

const SCENARIOS = {
  '64B-max': { len: 60, rate: 0, title: '64-byte frames, max rate' },
  '64B-300k': { len: 60, rate: 300000, title: '64-byte frames, 300k/s' },
  '64B-100k': { len: 60, rate: 100000, title: '64-byte frames, 100k/s' },
  '1400B-max': { len: 1400, rate: 0, title: '1400-byte frames, max rate' },
};
// tapwire-BACKEND[-packets|-reject]: accessors or Packet objects; -reject runs a filter
// that matches none of the traffic (the kernel-side cost of rejected packets);
// tapwire-ebpf-attribution reads as tapwire-ebpf with `attribution: true`;
// tapwire-raw-zc[-packets|-headers|-flows] read as tapwire-raw[...] with `zeroCopy: true`;
// -headers reads every packet's addresses and ports through a header view, -flows
// tracks flows (bench/conversations.js runs these).
const CAPTURERS = [
  'none',
  'tcpdump',
  'cap',
  'tapwire-ebpf',
  'tapwire-raw',
  'tapwire-ebpf-packets',
  'tapwire-raw-packets',
  'tapwire-raw-zc',
  'tapwire-raw-zc-packets',
  'tcpdump-reject',
  'tapwire-ebpf-reject',
  'tapwire-ebpf-attribution',
  'tapwire-ebpf-headers',
  'tapwire-raw-headers',
  'tapwire-ebpf-flows',
  'tapwire-raw-flows',
  'tapwire-raw-zc-headers',
  'tapwire-raw-zc-flows',
];
const REJECT_FILTER = 'udp port 7';

function usage() {
  return `usage: node bench/run.js [options]        (as root; npm run bench -- [options])

  --count N           frames per run (default 1000000)
  --reps N            repetitions; medians are reported (default 3)
  --quick             smoke run: 200000 frames, 1 repetition, 1M-frame memory check
  --scenarios LIST    comma-separated, from ${Object.keys(SCENARIOS).join(',')}
  --capturers LIST    comma-separated, from ${CAPTURERS.join(',')} ('none' is always run)
  --memory            run only the memory scenario
  --no-memory         skip the memory scenario
  --memory-count N    frames of the memory scenario (default 10000000)
  --no-latency        skip the latency runs (64-byte frames at 1k/s and at max, each backend)
  --json FILE         where to write the results (default bench/results/latest.json)
  --keep              keep the work folder with every run's output
  --build             run npm run build:all first (by default a missing build is an error
                      and a build older than lib/ or native/ only a warning)
  -h, --help          this text`;
}

function parseArgs(argv) {
  const o = {
    count: 1_000_000,
    reps: 3,
    scenarios: Object.keys(SCENARIOS),
    // The conversation layer's loops run from bench/conversations.js.
    capturers: CAPTURERS.filter((c) => !/-(headers|flows)$/.test(c)),
    memory: 'also',
    latency: true,
    memoryCount: 10_000_000,
    json: path.join(__dirname, '..', 'results', 'latest.json'),
    keep: false,
    build: false,
  };
  const set = new Set();
  const int = (name, v) => {
    if (!/^\d+$/.test(v ?? '') || Number(v) < 1) fail(`${name} takes a positive integer`);
    return Number(v);
  };
  const list = (name, v, known) => {
    const l = (v ?? '').split(',').filter(Boolean);
    for (const x of l) if (!known.includes(x)) fail(`${name}: unknown '${x}' (known: ${known.join(', ')})`);
    if (!l.length) fail(`${name} takes a list`);
    return l;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--count':
        o.count = int(a, argv[++i]);
        set.add('count');
        break;
      case '--reps':
        o.reps = int(a, argv[++i]);
        set.add('reps');
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--scenarios':
        o.scenarios = list(a, argv[++i], Object.keys(SCENARIOS));
        break;
      case '--capturers':
        o.capturers = list(a, argv[++i], CAPTURERS);
        break;
      case '--memory':
        o.memory = 'only';
        break;
      case '--no-memory':
        o.memory = 'no';
        break;
      case '--no-latency':
        o.latency = false;
        break;
      case '--memory-count':
        o.memoryCount = int(a, argv[++i]);
        set.add('memoryCount');
        break;
      case '--json':
        o.json = path.resolve(argv[++i] ?? fail('--json takes a file'));
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--build':
        o.build = true;
        break;
      case '-h':
      case '--help':
        console.log(usage());
        process.exit(0);
        break;
      default:
        fail(`unknown option ${a}\n${usage()}`);
    }
  }
  if (o.quick) {
    if (!set.has('count')) o.count = 200_000;
    if (!set.has('reps')) o.reps = 1;
    if (!set.has('memoryCount')) o.memoryCount = 1_000_000;
  }
  if (!o.capturers.includes('none')) o.capturers.unshift('none');
  o.capturers = CAPTURERS.filter((c) => o.capturers.includes(c)); // fixed order, none first
  return o;
}

module.exports = { SCENARIOS, CAPTURERS, REJECT_FILTER, parseArgs };
