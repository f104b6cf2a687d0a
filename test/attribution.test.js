'use strict';
// `attribution: true`: each packet names the process that owns its socket. Checked with
// real processes of known pids (python, curl, this node process), both directions, TCP
// and UDP, IPv4 and IPv6, a server whose listening socket predates the capture, loopback
// (both ends named), a cgroup capture, pcapng comments read by tshark, the CLI, and the
// kernel state left after close and after SIGKILL.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { openCapturer, PcapngWriter } = require('..');
const { containerOf } = require('../dist/attribution/container');
const { decodeComments, decodeCustom, encodeProcessOptions, processComment } = require('../dist/pcapng/process-options');
const { ProcessTable } = require('../dist/attribution/processes');
const { requirePrivileges } = require('./helpers/privileged');
const { kernelHas, requireFeature } = require('./helpers/features');
const { createLink, removeLink } = require('./helpers/netns');
const { cgroup2Mount, runIn, cgroupPrograms } = require('./helpers/cgroups');
const { objectsOf } = require('./helpers/bpftool');
const { captureWhile } = require('./helpers/capture');
const { tsharkFields } = require('./helpers/files');
const { until } = require('./helpers/poll');

const HEX = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);
const isCode = (code, pattern) => (err) => err.code === code && pattern.test(err.message);

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
}

/** The BPF links at the root cgroup: the attribution hooks are linked there. */
const rootCgroupLinks = () => cgroupPrograms(cgroup2Mount());

describe('attribution: options and formats', function () {
  it('refuses attribution where it cannot run, with a coded error, never a silent none', async function () {
    await assert.rejects(openCapturer({ backend: 'raw-socket', attribution: true }), isCode('ERR_INVALID_OPTION', /eBPF backend/));
    await assert.rejects(openCapturer({ backend: 'ebpf', attach: 'socket', attribution: true }), isCode('ERR_INVALID_OPTION', /tcx/));
    await assert.rejects(openCapturer({ attribution: 'yes' }), isCode('ERR_INVALID_OPTION', /boolean/));
    await assert.rejects(openCapturer({ file: '/dev/null', attribution: true }), isCode('ERR_INVALID_OPTION', /attribution/));
  });

  it('names the container a cgroup path names, for each runtime', function () {
    assert.deepEqual(containerOf(`/system.slice/docker-${HEX}.scope`), { id: HEX, runtime: 'docker', podUid: null });
    assert.deepEqual(containerOf(`/docker/${HEX}`), { id: HEX, runtime: 'docker', podUid: null });
    assert.deepEqual(containerOf(`/system.slice/crio-${HEX}.scope`), { id: HEX, runtime: 'cri-o', podUid: null });
    assert.deepEqual(containerOf(`/machine.slice/libpod-${HEX}.scope/container`), { id: HEX, runtime: 'podman', podUid: null });
    assert.deepEqual(
      containerOf(
        `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-${HEX}.scope`,
      ),
      { id: HEX, runtime: 'containerd', podUid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' },
    );
    assert.deepEqual(containerOf(`/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/${HEX}`), {
      id: HEX,
      runtime: 'unknown',
      podUid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    });
    assert.equal(containerOf('/user.slice/user-0.slice/session-1.scope'), null);
    assert.equal(containerOf('/'), null);
  });

  it("writes ptcpdump's comment form and reads ptcpdump's comments back", function () {
    const p = { pid: 4242, comm: 'curl', cgroupId: 1, exe: '/usr/bin/curl', cmdline: ['curl', '-s', 'http://x'], container: null };
    assert.equal(processComment(p), 'PID: 4242\nCmd: /usr/bin/curl\nArgs: curl -s http://x');
    const back = decodeComments([processComment(p), `ContainerId: ${HEX}`]);
    assert.equal(back.process.pid, 4242);
    assert.equal(back.process.comm, 'curl');
    assert.equal(back.process.exe, '/usr/bin/curl');
    assert.deepEqual(back.process.cmdline, ['curl', '-s', 'http://x']);
    assert.equal(back.process.container.id, HEX);
    assert.equal(decodeComments(['a comment of someone else']), null);
    assert.equal(encodeProcessOptions({ process: null, peerProcess: null, attribution: 'none' }).length, 0);
  });

  it('fits a 100 KiB command line into options of at most 64 KiB, the record still whole', function () {
    const long = {
      pid: 7,
      comm: 'java',
      cgroupId: 1,
      exe: '/usr/bin/java',
      cmdline: ['java', '-cp', 'x'.repeat(100 * 1024)],
      container: null,
    };
    const options = encodeProcessOptions({ process: long, peerProcess: null, attribution: 'socket' });
    const found = [];
    for (let pos = 0; pos + 4 <= options.length;) {
      const code = options.readUInt16LE(pos);
      const length = options.readUInt16LE(pos + 2);
      found.push({ code, value: options.subarray(pos + 4, pos + 4 + length) });
      pos += 4 + ((length + 3) & ~3);
    }
    assert.deepEqual(
      found.map((o) => o.code),
      [1, 2988],
    );
    assert.ok(found[0].value.toString().startsWith('PID: 7\nCmd: /usr/bin/java\nArgs: java -cp xxx'));
    const back = decodeCustom(found[1].value);
    assert.equal(back.process.pid, 7);
    assert.equal(back.process.exe, '/usr/bin/java');
    assert.equal(back.process.cmdline, null);
  });

  it('reads /proc once per process, whatever its threads call themselves', function () {
    const table = new ProcessTable();
    const a = table.lookup(process.pid, 'node', 1);
    const b = table.lookup(process.pid, 'libuv-worker', 1);
    assert.equal(a.exe, fs.readlinkSync('/proc/self/exe'));
    assert.equal(b.exe, a.exe);
    assert.equal(b.cmdline, a.cmdline); // the same array: read once
    assert.equal(b.comm, 'libuv-worker');
    assert.equal(table.lookup(process.pid, 'node', 1), a);
  });
});

describe('attribution: packets of known processes (eBPF)', function () {
  this.timeout(60000);
  // Interface captures attribute where there is tcx; the tests choose by the kernel's
  // release, not by the probe, which helpers/features.js holds to it.
  const tcx = kernelHas('tcxAttribution');

  before(async function () {
    await requirePrivileges(this, ['python3', 'curl', 'bpftool', 'tshark']);
    await requireFeature(this, 'attribution');
    if (!cgroup2Mount()) throw new Error('cgroup v2 is not mounted: attribution needs it');
  });

  it('refuses an interface capture where interface captures cannot attribute (no tcx), pointing at a cgroup capture', async function () {
    if (tcx) this.skip(); // with tcx, interface captures attribute: the tests below
    const before = rootCgroupLinks().length;
    await assert.rejects(openCapturer({ interfaces: 'lo', attribution: true }), isCode('ERR_ATTRIBUTION_UNAVAILABLE', /cgroup: '\/'/));
    assert.equal(rootCgroupLinks().length, before);
  });

  describe('on an interface (tcx)', function () {
    let link;
    before(async function () {
      await requireFeature(this, 'tcxAttribution'); // interface attribution needs tcx
    });
    beforeEach(function () {
      link = createLink();
    });
    afterEach(function () {
      if (link) removeLink(link);
      link = undefined;
    });

    it('names this process as owner of a server socket that predates the capture, both directions, for curl in another namespace', async function () {
      const server = http.createServer((req, res) => res.end('hello'));
      await listen(server, 0, link.outerAddr);
      const port = server.address().port;
      try {
        const cap = await openCapturer({ interfaces: link.outer, filter: `tcp port ${port}`, attribution: true });
        assert.equal(cap.selection.attach, 'tcx');
        const { packets } = await captureWhile(cap, async () => {
          const child = spawn('ip', ['netns', 'exec', link.ns, 'curl', '-s', '-o', '/dev/null', `http://${link.outerAddr}:${port}/`]);
          await new Promise((resolve) => child.on('close', resolve));
        });
        const ins = packets.filter((p) => p.direction === 'in');
        const outs = packets.filter((p) => p.direction === 'out');
        assert.ok(ins.length >= 3 && outs.length >= 3, `in ${ins.length}, out ${outs.length}`);
        // What leaves carries its socket, but for the SYN-ACK (its socket is the listener's
        // request, not a full socket); what arrives is looked up by addresses and ports.
        const synAck = (p) => (p.data[14 + 20 + 13] & 0x12) === 0x12;
        for (const p of packets) {
          assert.equal(p.attribution, p.direction === 'out' && !synAck(p) ? 'socket' : 'tuple', JSON.stringify(p));
          assert.equal(p.process.pid, process.pid);
          assert.equal(p.process.exe, fs.readlinkSync('/proc/self/exe'));
          assert.equal(p.peerProcess, null); // the other end is in another namespace, not on loopback
        }
      } finally {
        server.close();
      }
    });

    it("names an unconnected UDP sender's datagrams (sendto) with its pid and command", async function () {
      const cap = await openCapturer({ interfaces: link.outer, filter: 'udp port 5701', attribution: true });
      let pid;
      const { packets } = await captureWhile(cap, async () => {
        const child = spawn('python3', [
          '-c',
          `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(5): s.sendto(b'x' * 10, ('${link.innerAddr}', 5701))`,
        ]);
        pid = child.pid;
        await new Promise((resolve) => child.on('close', resolve));
      });
      const sent = packets.filter((p) => p.direction === 'out');
      assert.equal(sent.length, 5);
      for (const p of sent) {
        assert.equal(p.attribution, 'socket');
        assert.equal(p.process.pid, pid);
        assert.match(p.process.comm, /^python3/);
      }
    });
  });

  it('names both ends on loopback over IPv6, for a server socket accepted after the capture opened', async function () {
    await requireFeature(this, 'tcxAttribution');
    const server = http.createServer((req, res) => res.end('hello'));
    await listen(server, 0, '::1');
    const port = server.address().port;
    try {
      const cap = await openCapturer({ interfaces: 'lo', filter: `ip6 and tcp port ${port}`, attribution: true });
      let curlPid;
      const { packets } = await captureWhile(cap, async () => {
        const child = spawn('curl', ['-s', '-o', '/dev/null', `http://[::1]:${port}/`]);
        curlPid = child.pid;
        await new Promise((resolve) => child.on('close', resolve));
      });
      const toServer = packets.filter((p) => p.data.readUInt16BE(14 + 40 + 2) === port);
      const toCurl = packets.filter((p) => p.data.readUInt16BE(14 + 40) === port);
      assert.ok(toServer.length >= 3 && toCurl.length >= 2, `${toServer.length} to the server, ${toCurl.length} to curl`);
      // Until the sockets close, each packet names its receiver and its sender.
      const named = (p) => p.process !== null && p.peerProcess !== null;
      for (const p of toServer.filter(named).slice(0, 3)) {
        assert.equal(p.attribution, 'tuple');
        assert.equal(p.process.pid, process.pid);
        assert.equal(p.peerProcess.pid, curlPid);
        assert.equal(p.peerProcess.comm, 'curl');
      }
      for (const p of toCurl.filter(named).slice(0, 2)) {
        assert.equal(p.process.pid, curlPid);
        assert.equal(p.peerProcess.pid, process.pid);
      }
      assert.ok(toServer.filter(named).length >= 3 && toCurl.filter(named).length >= 2);
    } finally {
      server.close();
    }
  });

  it("attributes a cgroup capture's packets, with the cgroup id and the container its path names", async function () {
    await requireFeature(this, 'cgroupAttribution');
    const dir = path.join(cgroup2Mount(), `docker-${HEX.slice(0, 58)}${process.pid.toString(16).padStart(6, '0')}.scope`);
    fs.mkdirSync(dir);
    const sink = dgram.createSocket('udp4');
    await new Promise((resolve) => sink.bind(5702, '127.0.0.1', resolve));
    try {
      const cap = await openCapturer({ cgroup: dir, filter: 'udp port 5702', attribution: true });
      assert.equal(cap.selection.attach, 'cgroup');
      const { packets, result } = await captureWhile(cap, () =>
        runIn(dir, 'sh', [
          '-c',
          "echo $$; exec python3 -c \"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(3): s.sendto(b'y', ('127.0.0.1', 5702))\nimport time; time.sleep(0.3)\"",
        ]),
      );
      const pid = Number(result.stdout.trim());
      assert.equal(packets.length, 3);
      for (const p of packets) {
        assert.equal(p.attribution, 'socket');
        assert.equal(p.process.pid, pid);
        assert.equal(p.process.cgroupId, fs.statSync(dir).ino);
        assert.equal(p.process.container.id, path.basename(dir).slice('docker-'.length, -'.scope'.length));
        assert.equal(p.process.container.runtime, 'docker');
      }
    } finally {
      sink.close();
      await until('the cgroup empties', () => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8') === '');
      fs.rmdirSync(dir);
    }
  });

  it('names the server process of a cgroup capture whose listening socket predates the capture, though TCP passes no hook', async function () {
    await requireFeature(this, 'cgroupAttribution');
    const dir = path.join(cgroup2Mount(), `tapwire-attr-${process.pid}`);
    fs.mkdirSync(dir);
    // A python server in the cgroup, listening before the capture opens; it answers one
    // request. Its accepted socket inherits the listener's owner, named at open.
    const server = spawn(
      'sh',
      [
        '-c',
        'echo 0 > "$0/cgroup.procs" && exec "$@"',
        dir,
        'python3',
        '-c',
        "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\nprint(s.getsockname()[1], flush=True)\nc, _ = s.accept()\nc.recv(100)\nc.sendall(b'ok')\nc.close()",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const port = await new Promise((resolve, reject) => {
        server.stdout.once('data', (d) => resolve(Number(String(d).trim())));
        server.once('exit', (code) => reject(new Error(`the server exited ${code}`)));
      });
      const cap = await openCapturer({ cgroup: dir, filter: `tcp port ${port}`, attribution: true });
      // The listener at least was named, by whichever way this kernel takes.
      assert.match(
        cap.selection.attribution.reason,
        /named by the task-file iterator|[1-9]\d* sockets? open at the start named from \/proc/,
      );
      const { packets } = await captureWhile(cap, async () => {
        const socket = net.connect(port, '127.0.0.1');
        socket.end('hi');
        await new Promise((resolve, reject) => socket.on('error', reject).on('close', resolve).resume());
      });
      // The request and the answer: the packets with a payload, one each way (a cgroup
      // capture's packets start at the IP header).
      const payloadOf = (d) => d.readUInt16BE(2) - (d[0] & 15) * 4 - (d[(d[0] & 15) * 4 + 12] >> 4) * 4;
      const payload = packets.filter((p) => payloadOf(p.data) > 0);
      assert.deepEqual(payload.map((p) => p.direction).sort(), ['in', 'out'], JSON.stringify(packets));
      for (const p of payload) {
        assert.equal(p.attribution, 'socket', JSON.stringify(p));
        assert.equal(p.process.pid, server.pid);
        assert.equal(p.process.comm, 'python3');
        assert.equal(p.process.cgroupId, fs.statSync(dir).ino);
      }
    } finally {
      server.kill();
      await until('the cgroup empties', () => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8') === '');
      fs.rmdirSync(dir);
    }
  });

  it("writes each packet's process as pcapng comments tshark shows, and replay reads them back", async function () {
    await requireFeature(this, 'tcxAttribution');
    const file = path.join(os.tmpdir(), `tapwire-attr-${process.pid}.pcapng`);
    const sink = dgram.createSocket('udp4');
    await new Promise((resolve) => sink.bind(5703, '127.0.0.1', resolve));
    try {
      const cap = await openCapturer({ interfaces: 'lo', filter: 'udp port 5703', attribution: true });
      const writer = new PcapngWriter(file, { source: cap });
      let written = 0;
      const reading = (async () => {
        for await (const batch of cap) {
          writer.write(batch);
          written += batch.length;
        }
      })();
      const child = spawn('python3', [
        '-c',
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(4): s.sendto(b'z', ('127.0.0.1', 5703))",
      ]);
      await new Promise((resolve) => child.on('close', resolve));
      await until('the 4 datagrams are written', () => written >= 4);
      await cap.close();
      await reading;
      await writer.close(cap.stats());
      const rows = tsharkFields(file, ['frame.comment', 'udp.dstport']);
      assert.equal(rows.length, 4);
      const exe = fs.readlinkSync('/proc/self/exe');
      for (const row of rows)
        assert.ok(row['frame.comment'].startsWith(`PID: ${process.pid}\\nCmd: ${exe}\\nArgs: `), row['frame.comment']);
      const replay = await openCapturer({ file });
      const { packets } = await captureWhile(replay, async () => {});
      assert.equal(packets.length, 4);
      for (const p of packets) {
        assert.equal(p.attribution, 'tuple'); // loopback is captured as it arrives
        assert.equal(p.process.pid, process.pid); // the receiver: this process's sink
        assert.equal(p.peerProcess.pid, child.pid);
        assert.match(p.peerProcess.comm, /^python3/);
      }
    } finally {
      sink.close();
      fs.rmSync(file, { force: true });
    }
  });

  it('selects packets by owner in the CLI (--comm, -P) and prints pid and command', async function () {
    await requireFeature(this, 'tcxAttribution');
    const sink = dgram.createSocket('udp4');
    await new Promise((resolve) => sink.bind(5704, '127.0.0.1', resolve));
    const cli = spawn(process.execPath, [
      path.join(__dirname, '..', 'bin', 'tapwire.js'),
      'capture',
      '-i',
      'lo',
      '-P',
      '--comm',
      'python3',
      '-c',
      '2',
      'udp port 5704',
    ]);
    let out = '';
    let err = '';
    cli.stdout.on('data', (d) => (out += d));
    cli.stderr.on('data', (d) => (err += d));
    try {
      await until('the CLI listens', () => /listening on/.test(err));
      // Ours first (not selected), then python's two.
      const ours = dgram.createSocket('udp4');
      await new Promise((resolve) => ours.send('n', 5704, '127.0.0.1', resolve));
      ours.close();
      const child = spawn('python3', [
        '-c',
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(2): s.sendto(b'p', ('127.0.0.1', 5704))",
      ]);
      await new Promise((resolve) => child.on('close', resolve));
      const code = await new Promise((resolve) => cli.on('close', resolve));
      assert.equal(code, 0, err);
      const lines = out.trim().split('\n');
      assert.equal(lines.length, 2, out);
      for (const line of lines)
        assert.match(
          line,
          new RegExp(
            `pid ${process.pid} \\(\\S+\\) peer ${child.pid} \\(python3\\) IP 127\\.0\\.0\\.1\\.\\d+ > 127\\.0\\.0\\.1\\.5704: UDP`,
          ),
        );
    } finally {
      cli.kill();
      sink.close();
    }
  });

  it('leaves no cgroup link, program or map behind after close, or after the process is killed', async function () {
    const before = rootCgroupLinks().length;
    const cap = await openCapturer({
      ...(tcx ? { interfaces: 'lo' } : { cgroup: cgroup2Mount() }),
      attribution: true,
    });
    assert.equal(rootCgroupLinks().length, before + (tcx ? 9 : 11));
    await cap.close();
    assert.equal(rootCgroupLinks().length, before);
    assert.equal(objectsOf(process.pid).links.size, 0);

    const script = `require(${JSON.stringify(path.join(__dirname, '..'))}).openCapturer({ ${tcx ? "interfaces: 'lo'" : `cgroup: ${JSON.stringify(cgroup2Mount())}`}, attribution: true }).then(() => console.log('open'))`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve, reject) => {
        child.stdout.on('data', (d) => String(d).includes('open') && resolve());
        child.on('exit', (code) => reject(new Error(`the child exited ${code} before opening`)));
      });
      assert.ok(objectsOf(child.pid).links.size >= 9);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));
      await until('the kernel frees the killed process’s links', () => rootCgroupLinks().length === before);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
