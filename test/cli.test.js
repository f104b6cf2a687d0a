'use strict';
// The tapwire command, run as a user would run it: exit codes and messages, tcpdump's
// own output on the same traffic as the reference for the text lines, tcpdump and
// tshark reading what it writes, and signals that must leave a complete file.
const assert = require('node:assert/strict');
const net = require('node:net');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { probe, selectBackend } = require('..');
const { requirePrivileges, requireTools } = require('./helpers/privileged');
const { createLinkWithSink, sendFromPeer, sendToPeer } = require('./helpers/netns');
const { pcapFile, udpFrame, tsharkFields } = require('./helpers/files');
const { run, startTcpdump } = require('./helpers/tools');
const { until } = require('./helpers/poll');

const BIN = path.join(__dirname, '..', 'bin', 'tapwire.js');
const tapwire = (args, options) => run(process.execPath, [BIN, ...args], options);

/**
 * Starts `tapwire capture ARGS`; `ready` resolves once it is capturing, `done` with
 * { code, signal, stdout, stderr } when it exits.
 */
function startCapture(args, { stdout = 'pipe' } = {}) {
  const child = spawn(process.execPath, [BIN, 'capture', ...args], { stdio: ['ignore', stdout, 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  let onReady;
  const ready = new Promise((resolve, reject) => {
    onReady = resolve;
    child.on('exit', (code) => reject(new Error(`tapwire exited ${code} before capturing: ${err}`)));
  });
  child.stderr.on('data', (d) => {
    err += d;
    if (/listening on/.test(err)) onReady();
  });
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })));
  return { child, ready, done, stdout: () => out };
}

/** Drops tcpdump's and tapwire's first column (the time of day), which both print. */
const withoutTime = (text) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\S+ /, ''));

describe('tapwire command line', function () {
  let dir;

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-cli-'));
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const frames = [
    udpFrame(Buffer.from('one'), { dport: 53 }),
    udpFrame(Buffer.from('two two'), { src: '198.18.0.9', sport: 1234, dport: 5001 }),
    udpFrame(Buffer.alloc(100), { dport: 9 }),
  ];
  const sample = () => {
    const file = path.join(dir, 'sample.pcap');
    fs.writeFileSync(file, pcapFile({ packets: frames.map((data, i) => ({ seconds: 1_700_000_000, fraction: i, data })) }));
    return file;
  };

  it('exits 2 on a bad command line, naming the error code and what is wrong', async function () {
    const cases = [
      [['capture', '-x'], /ERR_USAGE: unknown flag -x/],
      [['capture', '--frob'], /ERR_USAGE: unknown option --frob\n/],
      [['capture', '--backnd', 'ebpf'], /ERR_USAGE: unknown option --backnd: did you mean --backend\?/],
      [['capture', '--interface', 'lo'], /ERR_USAGE: unknown option --interface: did you mean -i\?/],
      [['capture', '-c', 'ten'], /ERR_USAGE: -c needs a whole number of at least 1; got "ten"/],
      [['capture', '-c', '0'], /ERR_USAGE: -c needs a whole number/],
      [['capture', '-Q', 'sideways'], /ERR_USAGE: -Q takes in, out or inout/],
      [['capture', '-B', 'lots'], /ERR_USAGE: -B needs a whole number of at least 1; got "lots"/],
      [['capture', '-B', '64'], /ERR_INVALID_OPTION: bufferSize must be/],
      [['capture', '-i'], /ERR_USAGE: -i needs a value/],
      [['capture', '-f', 'udp', 'tcp'], /ERR_USAGE: give the filter with -f or as an expression/],
      [['capture', '--pcap'], /ERR_USAGE: --pcap chooses the format of -w/],
      [['capture', '--backend', 'pcap'], /ERR_INVALID_OPTION: backend must be one of/],
      [['capture', '--tls=always'], /ERR_USAGE: --tls takes auto or required/],
      [['capture', '-r', sample(), '-i', 'lo'], /ERR_INVALID_OPTION: interfaces cannot be used with file/],
      [['capture', '-r', sample(), 'udp prt 53'], /ERR_BAD_FILTER: bad filter "udp prt 53": .*syntax error/],
      [['probe', 'extra'], /ERR_USAGE: probe takes no arguments/],
      [['frobnicate'], /ERR_USAGE: unknown command "frobnicate"/],
      [[], /ERR_USAGE: a command is needed/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr, stdout } = await tapwire(args);
      assert.equal(code, 2, `tapwire ${args.join(' ')}: ${stderr}`);
      assert.match(stderr, message, `tapwire ${args.join(' ')}`);
      assert.equal(stdout, '', 'nothing on stdout');
    }
  });

  it('exits 1 on a runtime error, with its code', async function () {
    const missing = await tapwire(['capture', '-r', path.join(dir, 'missing.pcapng')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ERR_FILE: cannot open .*missing\.pcapng: no such file or directory \(ENOENT\)/);
    fs.writeFileSync(path.join(dir, 'junk.pcap'), 'not a capture');
    const junk = await tapwire(['capture', '-r', path.join(dir, 'junk.pcap')]);
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /ERR_FILE: .*junk\.pcap is not a pcap or pcapng file/);
  });

  it('prints each packet of a file the way tcpdump -q -nn does, and applies -c and the filter', async function () {
    requireTools(this, ['tcpdump']);
    const file = sample();
    const ours = await tapwire(['capture', '-r', file]);
    assert.equal(ours.code, 0, ours.stderr);
    const theirs = execFileSync('tcpdump', ['-q', '-nn', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(ours.stdout, theirs);
    assert.match(ours.stderr, /reading from file .*sample\.pcap \(pcap\)/);
    assert.match(ours.stderr, /^3 packets captured$/m);

    const some = await tapwire(['capture', '-r', file, '-c', '1', 'udp', 'and', 'not', 'port', '53']);
    assert.deepEqual(withoutTime(some.stdout), ['IP 198.18.0.9.1234 > 198.18.0.2.5001: UDP, length 7']);
    assert.match(some.stderr, /^1 packet captured$/m);
  });

  it('probe: every feature with its reason, the backend auto chooses and why, and TLS', async function () {
    const report = await probe();
    let expected;
    try {
      expected = selectBackend(report, 'auto');
    } catch {
      expected = null;
    }
    const text = await tapwire(['probe']);
    assert.equal(text.code, expected ? 0 : 1);
    for (const [name, feature] of Object.entries(report.features)) {
      assert.ok(text.stdout.includes(`${name}`) && text.stdout.includes(feature.reason), `${name} and its reason`);
    }
    if (expected) {
      assert.match(text.stdout, new RegExp(`backend 'auto' chooses: ${expected.backend}`));
      for (const reason of expected.reasons) assert.ok(text.stdout.includes(reason), reason);
    }
    assert.match(text.stdout, /TLS capture \(tls: 'auto'\): (on|off): \S/);

    const json = await tapwire(['probe', '--json']);
    assert.equal(json.code, text.code);
    const parsed = JSON.parse(json.stdout);
    assert.deepEqual(parsed.features, report.features);
    assert.deepEqual(parsed.capabilities, report.capabilities);
    assert.equal(parsed.auto.backend, expected ? expected.backend : null);
    assert.equal(typeof parsed.tls.reason, 'string');
  });

  it('-D lists interfaces with their index', async function () {
    const { code, stdout } = await tapwire(['capture', '-D']);
    assert.equal(code, 0);
    const lines = stdout.trim().split('\n');
    for (const line of lines) assert.match(line, /^\d+\.\S+( \[Up\])?$/);
    const lo = Number(fs.readFileSync('/sys/class/net/lo/ifindex', 'utf8'));
    assert.ok(
      lines.some((l) => l.startsWith(`${lo}.lo`)),
      stdout,
    );
  });

  describe('live', function () {
    let link;
    const PORT = 5201;

    before(async function () {
      await requirePrivileges(this, ['python3', 'ip', 'tcpdump', 'tshark', 'capinfos', 'script']);
      link = await createLinkWithSink(PORT);
    });

    after(function () {
      link?.close();
    });

    it('-c N stops after exactly N matching packets', async function () {
      const proc = startCapture(['-i', link.outer, '-c', '7', `udp dst port ${PORT}`]);
      await proc.ready;
      await sendFromPeer(link, { port: PORT + 50, count: 20, size: 10 }); // not matching
      await sendFromPeer(link, { port: PORT, count: 50, size: 64 });
      const { code, stdout, stderr } = await proc.done;
      assert.equal(code, 0, stderr);
      assert.deepEqual(withoutTime(stdout), Array(7).fill(`IP ${link.innerAddr}.40000 > ${link.outerAddr}.${PORT}: UDP, length 64`));
      assert.match(stderr, /^7 packets captured$/m);
      assert.match(stderr, /^0 packets dropped by kernel$/m);
    });

    it('prints UDP, TCP and ICMP as tcpdump -q -nn does on the same traffic', async function () {
      const dump = await startTcpdump(link.outer, 'udp or tcp or icmp');
      const proc = startCapture(['-i', link.outer, 'udp or tcp or icmp']);
      await proc.ready;
      await sendFromPeer(link, { port: PORT, count: 3, size: 5 });
      await sendToPeer(link, { port: PORT + 9, count: 1, size: 7 }); // nothing listens: ICMP port unreachable
      await new Promise((resolve) => {
        const socket = net.connect(PORT + 9, link.innerAddr); // nothing listens: SYN, RST
        socket.on('error', resolve);
      });
      // The last frame sent is the RST (the SYN's answer); SIGINT only after tapwire printed it.
      await until(
        'the ICMP, SYN and RST printed',
        () => /unreachable/.test(proc.stdout()) && (proc.stdout().match(/: tcp 0$/gm) ?? []).length >= 2,
      );
      proc.child.kill('SIGINT');
      const ours = await proc.done;
      const { packets } = await dump.stop();
      assert.equal(ours.code, 0, ours.stderr);
      const lines = withoutTime(ours.stdout);
      assert.equal(lines.length, packets.length);
      const file = path.join(dir, 'reference.pcap');
      // tcpdump's text for the same frames: write what it captured and print it with -q -nn.
      fs.writeFileSync(file, pcapFile({ packets: packets.map((p) => ({ seconds: 0, fraction: 0, data: p.data, length: p.length })) }));
      const theirs = execFileSync('tcpdump', ['-q', '-nn', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      assert.deepEqual(lines, withoutTime(theirs));
      assert.ok(lines.some((l) => / UDP, length 5$/.test(l)));
      assert.ok(lines.some((l) => /: tcp 0$/.test(l)));
      assert.ok(lines.some((l) => /ICMP .* udp port \d+ unreachable/.test(l)));
    });

    it('-Q out keeps only what this host sent', async function () {
      const proc = startCapture(['-i', link.outer, '-Q', 'out', '-c', '5', 'udp']);
      await proc.ready;
      await sendFromPeer(link, { port: PORT, count: 10, size: 10 });
      await sendToPeer(link, { port: PORT + 3, count: 10, size: 11 });
      const { code, stdout } = await proc.done;
      assert.equal(code, 0);
      assert.deepEqual(withoutTime(stdout), Array(5).fill(`IP ${link.outerAddr}.40001 > ${link.innerAddr}.${PORT + 3}: UDP, length 11`));
    });

    it('-w - piped into tcpdump -r - works', async function () {
      const capture = spawn(process.execPath, [BIN, 'capture', '-i', link.outer, '-c', '25', '-w', '-', `udp port ${PORT}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const reader = spawn('tcpdump', ['-r', '-', '-nn', '-q'], { stdio: [capture.stdout, 'pipe', 'pipe'] });
      let text = '';
      let stderr = '';
      reader.stdout.on('data', (d) => (text += d));
      capture.stderr.on('data', (d) => (stderr += d));
      await new Promise((resolve) => {
        const wait = () => (/listening on/.test(stderr) ? resolve() : setTimeout(wait, 20));
        wait();
      });
      await sendFromPeer(link, { port: PORT, count: 40, size: 21 });
      const [captureCode, readerCode] = await Promise.all([
        // Not 'close': the parent's end of the pipe tcpdump reads never ends.
        new Promise((r) => capture.on('exit', r)),
        new Promise((r) => reader.on('close', r)),
      ]);
      assert.equal(captureCode, 0, stderr);
      assert.equal(readerCode, 0);
      assert.deepEqual(withoutTime(text), Array(25).fill(`IP ${link.innerAddr}.40000 > ${link.outerAddr}.${PORT}: UDP, length 21`));
    });

    for (const [signal, format] of [
      ['SIGINT', 'pcapng'],
      ['SIGTERM', 'pcap'],
    ]) {
      it(`${signal} finishes the ${format} file completely`, async function () {
        const file = path.join(dir, `signal.${format}`);
        const proc = startCapture(['-i', link.outer, '-w', file, ...(format === 'pcap' ? ['--pcap'] : []), `udp port ${PORT}`]);
        await proc.ready;
        await sendFromPeer(link, { port: PORT, count: 100, size: 30 });
        // Each frame is 72 bytes: the file holds at least that plus a record header (16 bytes in pcap, more in pcapng) per packet.
        await until('100 packets in the file', () => fs.existsSync(file) && fs.statSync(file).size >= 100 * (72 + 16));
        proc.child.kill(signal);
        const { code, stderr } = await proc.done;
        assert.equal(code, 0, stderr);
        assert.match(stderr, /^100 packets captured$/m);
        const check = await run('tshark', ['-r', file]);
        assert.equal(check.code, 0, check.stderr);
        assert.doesNotMatch(check.stderr, /cut short|damaged|corrupt/i);
        assert.equal(tsharkFields(file, ['frame.len']).length, 100);
        if (format === 'pcapng') {
          const info = execFileSync('capinfos', ['-I', file], { encoding: 'utf8' });
          assert.match(info, new RegExp(`Name = ${link.outer}`));
          assert.match(info, /Number of stat entries = 1/, 'the statistics written on close');
        } else {
          assert.equal(
            execFileSync('tcpdump', ['-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
              .trim()
              .split('\n').length,
            100,
          );
        }
      });
    }

    it('exits 1 when the interface disappears, having finished the file and said what it captured', async function () {
      const doomed = await createLinkWithSink(PORT);
      try {
        const file = path.join(dir, 'gone.pcapng');
        const proc = startCapture(['-i', doomed.outer, '-w', file, `udp port ${PORT}`]);
        await proc.ready;
        await sendFromPeer(doomed, { port: PORT, count: 40, size: 30 });
        // The file says when the frames are in: pcapng writes each batch as it comes.
        await until('40 frames in the file', () => fs.existsSync(file) && tsharkFields(file, ['frame.len']).length === 40);
        execFileSync('ip', ['link', 'del', doomed.outer]);
        const { code, stderr } = await proc.done;
        assert.equal(code, 1, stderr);
        assert.match(stderr, new RegExp(`ERR_INTERFACE_GONE: the network interface "${doomed.outer}" disappeared`));
        assert.match(stderr, /^40 packets captured$/m);
        const info = execFileSync('capinfos', ['-I', file], { encoding: 'utf8' });
        assert.match(info, /Number of stat entries = 1/, 'the statistics written on close');
        assert.equal(tsharkFields(file, ['frame.len']).length, 40);
      } finally {
        doomed.close();
      }
    });

    it('--tls on raw-socket says once, in one line, that TLS capture is off and why', async function () {
      const proc = startCapture(['-i', link.outer, '--backend', 'raw-socket', '--tls', '-c', '1', `udp port ${PORT}`]);
      await proc.ready;
      await sendFromPeer(link, { port: PORT, count: 1, size: 10 });
      const { code, stderr } = await proc.done;
      assert.equal(code, 0, stderr);
      assert.match(stderr, /^tapwire: TLS capture runs only on the eBPF backend, and packets are captured by raw-socket/m);
      assert.equal(stderr.match(/TLS capture/g).length, 1, stderr);
    });

    it('a bad filter on a live capture exits 2 with libpcap’s message', async function () {
      const { code, stderr } = await tapwire(['capture', '-i', link.outer, 'udp prt 53']);
      assert.equal(code, 2);
      assert.match(stderr, /ERR_BAD_FILTER: bad filter "udp prt 53"/);
    });

    it('shows a live counter when stderr is a terminal', async function () {
      const file = path.join(dir, 'tty.pcapng');
      // script(1) gives the command a terminal; its output is what the terminal showed.
      const command = `${process.execPath} ${BIN} capture -i ${link.outer} -c 30 -w ${file} udp port ${PORT}`;
      const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let screen = '';
      child.stdout.on('data', (d) => (screen += d));
      await new Promise((resolve) => {
        const wait = () => (/listening on/.test(screen) ? resolve() : setTimeout(wait, 20));
        wait();
      });
      await sendFromPeer(link, { port: PORT, count: 10, size: 30 });
      await new Promise((r) => setTimeout(r, 1200)); // at least two redraws
      await sendFromPeer(link, { port: PORT, count: 20, size: 30 });
      const code = await new Promise((r) => child.on('close', r));
      assert.equal(code, 0, screen);
      assert.match(screen, /\r\x1b\[K10 packets {2}\d+(\.\d)? (B|KiB) {2}\d+ pkt\/s {2}0 dropped/);
      assert.match(screen, /30 packets captured/);
    });
  });
});
