'use strict';
// The `cgroup` option: only the packets of sockets whose processes are in one cgroup
// (or below it), checked with real processes inside and outside it sending at the same
// time, and tshark reading the file. eBPF only: no other backend can tell.
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { openCapturer, PcapngWriter } = require('..');
const { requirePrivileges } = require('./helpers/privileged');
const { requireFeature } = require('./helpers/features');
const { cgroup2Mount, createCgroup, runIn, cgroupPrograms } = require('./helpers/cgroups');
const { captureWhile } = require('./helpers/capture');
const { tsharkFields } = require('./helpers/files');
const { until } = require('./helpers/poll');

const PORT = 5601;
const isError = (code, pattern) => (err) => err.code === code && pattern.test(err.message);
// Five datagrams of `byte` x 10 to our sink on loopback.
const SEND = (byte) =>
  `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(5): s.sendto(b'${byte}' * 10, ('127.0.0.1', ${PORT}))`;

describe('capturing one cgroup (eBPF, cgroup v2)', function () {
  let cgroup;
  let sink;
  let received = 0;

  before(async function () {
    await requirePrivileges(this, ['python3', 'curl', 'bpftool', 'tshark', 'sh']);
    await requireFeature(this, 'cgroupCapture');
    if (!cgroup2Mount()) throw new Error('cgroup v2 is not mounted: the suite needs it');
    sink = dgram.createSocket('udp4');
    sink.on('message', () => received++);
    await new Promise((resolve) => sink.bind(PORT, '127.0.0.1', resolve));
  });

  beforeEach(function () {
    cgroup = createCgroup();
  });

  afterEach(function () {
    cgroup?.remove();
    cgroup = undefined;
  });

  after(function () {
    sink?.close();
  });

  it("captures the packets of processes inside it and none of a concurrent process's outside", async function () {
    received = 0;
    const cap = await openCapturer({ cgroup: cgroup.dir, filter: `udp port ${PORT}` });
    assert.equal(cap.selection.backend, 'ebpf');
    assert.equal(cap.selection.attach, 'cgroup');
    const { packets } = await captureWhile(cap, () =>
      Promise.all([runIn(cgroup.dir, 'python3', ['-c', SEND('i')]), runIn(cgroup2Mount(), 'python3', ['-c', SEND('o')])]),
    );
    await until('all 10 datagrams at the sink', () => received === 10);
    assert.equal(packets.length, 5, 'the five sent from inside, once each');
    for (const p of packets) {
      assert.equal(p.direction, 'out');
      assert.equal(p.linkType, 101, 'raw IP');
      assert.equal(p.length, 20 + 8 + 10);
      assert.equal(Buffer.from(p.data).subarray(28).toString(), 'i'.repeat(10));
    }
  });

  it('takes a path relative to the cgroup v2 mount, and captures its descendants too', async function () {
    const child = path.join(cgroup.dir, 'leaf');
    fs.mkdirSync(child);
    const cap = await openCapturer({ cgroup: cgroup.name, filter: `udp port ${PORT}` });
    const { packets } = await captureWhile(cap, () => runIn(child, 'python3', ['-c', SEND('d')]));
    assert.equal(packets.length, 5);
  });

  it("takes a cgroup as /proc/PID/cgroup writes it: '/' is the root of the tree, every process's", async function () {
    const inside = await openCapturer({ cgroup: `/${cgroup.name}`, filter: `udp port ${PORT}` });
    assert.equal(path.resolve(inside.selection.reasons[0].match(/cgroup (\S+) at/)[1]), cgroup.dir);
    const { packets } = await captureWhile(inside, () => runIn(cgroup.dir, 'python3', ['-c', SEND('p')]));
    assert.equal(packets.length, 5);
    const root = await openCapturer({ cgroup: '/', filter: `udp port ${PORT}` });
    const all = await captureWhile(root, () =>
      Promise.all([runIn(cgroup.dir, 'python3', ['-c', SEND('r')]), runIn(cgroup2Mount(), 'python3', ['-c', SEND('s')])]),
    );
    assert.equal(all.packets.filter((p) => p.direction === 'out').length, 10, 'both senders, inside and outside the test cgroup');
  });

  it('both directions of a TCP exchange of curl inside it, and none of the server outside it', async function () {
    const server = http.createServer((req, res) => res.end('x'.repeat(2000)));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    try {
      const cap = await openCapturer({ cgroup: cgroup.dir, filter: `tcp port ${port}` });
      const { packets, result } = await captureWhile(cap, () => runIn(cgroup.dir, 'curl', ['-s', `http://127.0.0.1:${port}/`]));
      assert.equal(result.stdout.length, 2000);
      const ports = (p) => {
        const d = Buffer.from(p.data);
        return [d.readUInt16BE(20), d.readUInt16BE(22)];
      };
      const sent = packets.filter((p) => p.direction === 'out');
      const got = packets.filter((p) => p.direction === 'in');
      assert.ok(sent.length >= 3 && got.length >= 3, `${sent.length} out, ${got.length} in`);
      // Every packet is curl's socket's: to the server's port going out, from it coming in.
      for (const p of sent) assert.equal(ports(p)[1], port);
      for (const p of got) assert.equal(ports(p)[0], port);
      // The server side (this process, outside) would add packets from the server port going out.
      assert.ok(!sent.some((p) => ports(p)[0] === port));
    } finally {
      server.close();
    }
  });

  it('writes raw-IP pcapng that tshark dissects', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-cgroup-'));
    try {
      const file = path.join(dir, 'cg.pcapng');
      const cap = await openCapturer({ cgroup: cgroup.dir, filter: `udp port ${PORT}` });
      const writer = new PcapngWriter(file, { source: cap });
      const { batches } = await captureWhile(cap, () => runIn(cgroup.dir, 'python3', ['-c', SEND('w')]));
      for (const b of batches) await writer.write(b);
      await writer.close();
      const rows = tsharkFields(file, ['frame.protocols', 'udp.dstport', 'udp.length']);
      assert.equal(rows.length, 5);
      // What follows udp depends on tshark's guess from the random source port (54328 reads
      // as elasticsearch), so only the link type, IP and UDP layers are ours to check.
      for (const row of rows) {
        assert.match(row['frame.protocols'], /^raw:ip:udp(:|$)/);
        assert.equal(row['udp.dstport'], String(PORT));
        assert.equal(row['udp.length'], '18');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves no program on the cgroup after close, or after SIGKILL of the capturing process', async function () {
    const cap = await openCapturer({ cgroup: cgroup.dir });
    assert.equal(cgroupPrograms(cgroup.dir).length, 2, 'ingress and egress');
    await cap.close();
    assert.deepEqual(cgroupPrograms(cgroup.dir), []);
    const root = path.join(__dirname, '..');
    const child = spawn(
      process.execPath,
      ['-e', `require(${JSON.stringify(root)}).openCapturer({ cgroup: ${JSON.stringify(cgroup.dir)} }).then(() => console.log('open'))`],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const gone = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      assert.equal(cgroupPrograms(cgroup.dir).length, 2);
    } finally {
      child.kill('SIGKILL');
      await gone;
    }
    // The links go with the last descriptor; the kernel frees them just after.
    await until('the programs detached', () => cgroupPrograms(cgroup.dir).length === 0);
  });

  it('bad paths are ERR_NO_SUCH_CGROUP; what cannot go with it is ERR_INVALID_OPTION', async function () {
    await assert.rejects(
      openCapturer({ cgroup: path.join(cgroup.dir, 'none') }),
      isError('ERR_NO_SUCH_CGROUP', /there is no such directory/),
    );
    await assert.rejects(openCapturer({ cgroup: os.tmpdir() }), isError('ERR_NO_SUCH_CGROUP', /not a cgroup directory/));
    const v1 = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => / - cgroup /.test(l));
    if (v1) await assert.rejects(openCapturer({ cgroup: v1.split(' ')[4] }), isError('ERR_NO_SUCH_CGROUP', /cgroup v1/));
    for (const clash of [{ interfaces: ['lo'] }, { netns: 1 }, { backend: 'raw-socket' }, { backend: 'ebpf', attach: 'tcx' }]) {
      await assert.rejects(openCapturer({ cgroup: cgroup.dir, ...clash }), isError('ERR_INVALID_OPTION', /cgroup/), JSON.stringify(clash));
    }
    await assert.rejects(openCapturer({ cgroup: 7 }), isError('ERR_INVALID_OPTION', /cgroup must be/));
  });

  it('TLS is confined to the cgroup (tls.cgroup), and nothing stays attached after close', async function () {
    await requireFeature(this, 'uprobe');
    const cap = await openCapturer({ cgroup: cgroup.dir, tls: 'required' });
    assert.equal(cap.selection.tls.active, true, cap.selection.tls.reason);
    await cap.close();
    assert.deepEqual(cgroupPrograms(cgroup.dir), []);
  });
});

describe('capturing one command: captureCommand() and tapwire capture -- COMMAND', function () {
  const BIN = path.join(__dirname, '..', 'bin', 'tapwire.js');
  const { captureCommand } = require('..');
  const { run } = require('./helpers/tools');
  let sink;

  before(async function () {
    await requirePrivileges(this, ['python3', 'tshark', 'capinfos', 'sh']);
    await requireFeature(this, 'cgroupCapture');
    sink = dgram.createSocket('udp4');
    await new Promise((resolve) => sink.bind(PORT + 1, '127.0.0.1', resolve));
  });

  after(function () {
    sink?.close();
  });

  const sendTo = (byte, count) =>
    `import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${count}):\n  s.sendto(b'${byte}' * 10, ('127.0.0.1', ${PORT + 1}))\n  time.sleep(0.01)`;

  it("the API: exactly the command's packets while another process sends the same, its exit, its cgroup removed", async function () {
    const outside = spawn('python3', ['-c', sendTo('o', 40)]);
    const outsideDone = new Promise((resolve) => outside.once('exit', resolve));
    const { capturer, exited, cgroup } = await captureCommand('python3', ['-c', `${sendTo('i', 10)}\nraise SystemExit(3)`], {
      filter: `udp port ${PORT + 1}`,
      spawn: { stdio: 'ignore' },
    });
    assert.ok(fs.existsSync(cgroup));
    const payloads = [];
    for await (const batch of capturer) for (const p of batch) payloads.push(Buffer.from(p.data).subarray(28).toString());
    assert.deepEqual(await exited, { code: 3, signal: null });
    await outsideDone;
    assert.deepEqual(payloads, Array(10).fill('i'.repeat(10)));
    await until('the cgroup removed', () => !fs.existsSync(cgroup));
  });

  it('the CLI: -w writes a complete file of the command only, and exits with its code', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-cmd-'));
    try {
      const file = path.join(dir, 'cmd.pcapng');
      const outside = spawn('python3', ['-c', sendTo('o', 40)]);
      const outsideDone = new Promise((resolve) => outside.once('exit', resolve));
      const script = `${sendTo('i', 10)}\nraise SystemExit(7)`;
      const { code, stderr } = await run(process.execPath, [
        BIN,
        'capture',
        '-w',
        file,
        `udp port ${PORT + 1}`,
        '--',
        'python3',
        '-c',
        script,
      ]);
      await outsideDone;
      assert.equal(code, 7, stderr);
      assert.match(stderr, /^10 packets captured$/m);
      const rows = tsharkFields(file, ['data.data']);
      assert.equal(rows.length, 10);
      for (const row of rows) assert.equal(row['data.data'], '69'.repeat(10)); // 'i'
      assert.match(execFileSync('capinfos', ['-c', file], { encoding: 'utf8' }), /Number of packets:\s+10\b/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the CLI: -- alone, or with -i, --netns or -r, is a usage error (exit 2)', async function () {
    for (const args of [['--'], ['-i', 'lo', '--', 'true'], ['--netns', '1', '--', 'true'], ['-r', '/dev/null', '--', 'true']]) {
      const { code, stderr } = await run(process.execPath, [BIN, 'capture', ...args]);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    }
  });
});

describe('cgroup on hosts where eBPF cannot capture it: an error, never a backend that captures everything', function () {
  const { runChild } = require('./helpers/hosts');
  let cgroup;

  before(async function () {
    await requirePrivileges(this, ['capsh', 'cc']);
    if (!cgroup2Mount()) throw new Error('cgroup v2 is not mounted: the suite needs it');
    cgroup = createCgroup();
  });

  after(function () {
    cgroup?.remove();
  });

  for (const [host, code] of [
    ['without CAP_SYS_ADMIN/CAP_BPF/CAP_PERFMON', 'ERR_NO_BACKEND'],
    ['with bpf() ENOSYS (seccomp)', 'ERR_NO_BACKEND'],
    // That host's seccomp filter fails bpf(BPF_LINK_CREATE) with EINVAL after the probe passed.
    ['eBPF programs load but may not attach (seccomp)', 'ERR_SYSTEM'],
  ]) {
    for (const tls of [false, 'auto']) {
      it(`${host}, tls ${JSON.stringify(tls)}: ${code}, whatever TLS says`, async function () {
        const messages = await runChild(host, { cgroup: cgroup.dir, tls, count: 1, timeout: 100 }, () => {});
        assert.equal(messages.ready, undefined, `it must not capture: ${JSON.stringify(messages.ready)}`);
        assert.equal(messages.error?.code, code, JSON.stringify(messages.error));
        assert.match(messages.error.message, /cgroup/);
      });
    }
  }
});
