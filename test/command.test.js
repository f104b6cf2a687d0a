'use strict';
// captureCommand() as a user of child_process.spawn expects it: the command itself is
// spawned (its own name, its own ENOENT), `signal` kills it, `exited` settles as
// documented, its cgroup goes whatever happens (even when node is killed), a capture
// that saw nothing can be read afterwards, and `tls` sees the command's plaintext and
// no other process's.
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { captureCommand, openCapturer } = require('..');
const { requireFeature } = require('./helpers/features');
const { requirePrivileges } = require('./helpers/privileged');
const { cgroup2Mount, createCgroup, runIn } = require('./helpers/cgroups');
const { bpfList, objectsOf } = require('./helpers/bpftool');
const { certificate, startServer, stop, NODE_SERVER } = require('./helpers/tls-peers');
const { run } = require('./helpers/tools');
const { until } = require('./helpers/poll');

const ROOT = path.join(__dirname, '..');
const PORT = 5611;
const v2Path = (pid) =>
  fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'))
    .slice(3);
/** The cgroup v2 directory process `pid` is in. */
const cgroupOf = (pid) => path.resolve(cgroup2Mount(), `.${v2Path(pid)}`);
/** The cgroup links attached to the directory whose inode is `ino` (bpftool lists them after the directory is gone too). */
const linksOn = (ino) => bpfList('link').filter((l) => l.type === 'cgroup' && l.cgroup_id === ino);
/** Every tapwire-PID-N cgroup directory beside this process's. */
const commandCgroups = () => fs.readdirSync(cgroupOf('self')).filter((n) => /^tapwire-\d+-\d+$/.test(n));

/** Runs a node script that uses tapwire, as its own process; resolves with its output once it ends. */
function nodeScript(source, options = {}) {
  return run(process.execPath, ['-e', `const tapwire = require(${JSON.stringify(ROOT)});\n${source}`], options);
}

describe('captureCommand: spawn semantics', function () {
  before(async function () {
    await requirePrivileges(this, ['sh', 'sleep', 'python3']);
    await requireFeature(this, 'cgroupCapture');
  });

  it('spawns the command itself, inside its cgroup: its own name in /proc, no shell around it', async function () {
    const run = await captureCommand('python3', ['-c', 'import os; print(open("/proc/self/comm").read().strip()); print(os.getppid())'], {
      spawn: { stdio: ['ignore', 'pipe', 'inherit'] },
    });
    let out = '';
    run.child.stdout.on('data', (d) => (out += d));
    assert.equal(run.child.spawnfile, 'python3');
    assert.deepEqual(run.child.spawnargs, ['python3', '-c', run.child.spawnargs[2]]);
    const cgroupOfChild = cgroupOf(run.child.pid);
    assert.deepEqual(await run.exited, { code: 0, signal: null });
    const [comm, ppid] = out.trim().split('\n');
    assert.equal(comm, 'python3');
    assert.equal(Number(ppid), process.pid, 'its parent is this process: nothing between');
    assert.equal(cgroupOfChild, run.cgroup);
    assert.equal(cgroupOf('self'), path.dirname(run.cgroup), 'this process is back in its own cgroup');
  });

  for (const [what, make] of [
    ['a missing command: ENOENT', () => 'no-such-command-tapwire'],
    [
      'a file that is not executable: EACCES',
      () => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tw-cmd-')), 'script');
        fs.writeFileSync(file, '#!/bin/sh\n');
        return file;
      },
    ],
  ]) {
    it(`${what}, as the same 'error' spawn() emits; exited rejects with it; nothing is left`, async function () {
      const command = make();
      const expected = await new Promise((resolve) => spawn(command, ['x']).once('error', resolve));
      const before = commandCgroups();
      const run = await captureCommand(command, ['x']);
      const emitted = await new Promise((resolve) => run.child.once('error', resolve));
      for (const err of [
        emitted,
        await run.exited.then(
          () => assert.fail('exited resolved'),
          (e) => e,
        ),
      ]) {
        assert.equal(err.code, expected.code);
        assert.equal(err.message, expected.message);
        assert.equal(err.syscall, expected.syscall);
        assert.equal(err.path, command);
      }
      assert.equal(run.child.pid, undefined);
      assert.equal(run.capturer.closed, true);
      assert.ok(!fs.existsSync(run.cgroup));
      assert.deepEqual(commandCgroups(), before);
      if (path.isAbsolute(command)) fs.rmSync(path.dirname(command), { recursive: true, force: true });
    });
  }

  it('a command that could not start and whose error nobody handles fails the process, as spawn() does', async function () {
    const { code, stderr } = await nodeScript("tapwire.captureCommand('no-such-command-tapwire');");
    assert.notEqual(code, 0);
    assert.match(stderr, /spawn no-such-command-tapwire ENOENT/);
    // ... and one whose 'error' the caller handles (exited not awaited) does not.
    const handled = await nodeScript(
      "tapwire.captureCommand('no-such-command-tapwire').then((r) => r.child.on('error', (e) => console.log('handled', e.code)));",
    );
    assert.equal(handled.code, 0, handled.stderr);
    assert.equal(handled.stdout.trim(), 'handled ENOENT');
  });

  it('tapwire capture -- CMD: a command that cannot start exits 127 (not found) or 126 (not runnable), as env(1) does', async function () {
    const BIN = path.join(ROOT, 'bin', 'tapwire.js');
    const missing = await run(process.execPath, [BIN, 'capture', '--', 'no-such-command-tapwire']);
    assert.equal(missing.code, 127, missing.stderr);
    assert.match(missing.stderr, /^tapwire: ENOENT: spawn no-such-command-tapwire ENOENT$/m);
    assert.doesNotMatch(missing.stderr, /tapwire-\d+-\d+/, 'no cgroup path in place of the command');
    const plain = await run(process.execPath, [BIN, 'capture', '--', os.tmpdir()]);
    assert.equal(plain.code, 126, plain.stderr);
  });

  it('resolves how the command exited: its code, or the signal that ended it', async function () {
    assert.deepEqual(await (await captureCommand('sh', ['-c', 'exit 3'])).exited, { code: 3, signal: null });
    const run = await captureCommand('sleep', ['30']);
    run.child.kill('SIGKILL');
    assert.deepEqual(await run.exited, { code: null, signal: 'SIGKILL' });
  });

  it('signal kills the command (killSignal), the child emits AbortError, exited rejects with it once the capture has all', async function () {
    const sink = dgram.createSocket('udp4');
    await new Promise((resolve) => sink.bind(PORT, '127.0.0.1', resolve));
    try {
      const send = `import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(3): s.sendto(b'x', ('127.0.0.1', ${PORT}))\nprint('sent', flush=True)\ntime.sleep(30)`;
      const controller = new AbortController();
      const run = await captureCommand('python3', ['-c', send], {
        filter: `udp port ${PORT}`,
        signal: controller.signal,
        spawn: { stdio: ['ignore', 'pipe', 'inherit'] },
      });
      const errors = [];
      run.child.on('error', (e) => errors.push(e));
      await new Promise((resolve) => run.child.stdout.once('data', resolve));
      const started = Date.now();
      controller.abort();
      const err = await run.exited.then(
        () => assert.fail('exited resolved'),
        (e) => e,
      );
      assert.ok(Date.now() - started < 5000, 'killed, not waited for');
      assert.equal(err.name, 'AbortError');
      assert.deepEqual(errors, [err]);
      assert.equal(run.child.signalCode, 'SIGTERM');
      assert.equal(run.capturer.closed, true);
      let packets = 0;
      for await (const batch of run.capturer) packets += batch.length;
      assert.equal(packets, 3, 'what the command sent before it was killed');
      assert.ok(!fs.existsSync(run.cgroup));

      const killed = await captureCommand('sleep', ['30'], { signal: AbortSignal.timeout(200), killSignal: 'SIGKILL' });
      await assert.rejects(killed.exited, { name: 'AbortError' });
      assert.equal(killed.child.signalCode, 'SIGKILL');
    } finally {
      sink.close();
    }
    await assert.rejects(captureCommand('true', [], { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });
});

describe('captureCommand: its cgroup goes, whatever happens', function () {
  before(async function () {
    await requirePrivileges(this, ['sh', 'sleep', 'bpftool']);
    await requireFeature(this, 'cgroupCapture');
  });

  it('a command that exits at once: its cgroup is gone when exited resolves, no link stays', async function () {
    const run = await captureCommand('true');
    const ino = fs.statSync(run.cgroup).ino;
    assert.equal(linksOn(ino).length, 2);
    await run.exited;
    assert.ok(!fs.existsSync(run.cgroup));
    assert.deepEqual(linksOn(ino), []);
  });

  it('a command that leaves a process running, then node exits: the cgroup is gone, the process lives on outside it', async function () {
    const { code, stdout, stderr } = await nodeScript(
      "tapwire.captureCommand('sh', ['-c', '(sleep 30 >/dev/null 2>&1 & echo $!); exit 0'], { spawn: { stdio: 'inherit' } }).then((r) => console.log(r.cgroup));",
    );
    assert.equal(code, 0, stderr);
    // The command's echo and the script's line may come in either order.
    const lines = stdout.trim().split('\n');
    const cgroup = lines.find((l) => l.startsWith('/'));
    const left = lines.find((l) => /^\d+$/.test(l));
    try {
      assert.ok(!fs.existsSync(cgroup), `${cgroup} left behind`);
      assert.ok(fs.existsSync(`/proc/${left}`), 'the command left it running, as spawn() would');
      assert.equal(cgroupOf(left), path.dirname(cgroup));
    } finally {
      spawnSync('kill', [left]);
    }
  });

  it('node exits while the command still runs: the cgroup is gone, the command runs on', async function () {
    const { code, stdout, stderr } = await nodeScript(
      "tapwire.captureCommand('sleep', ['30'], { spawn: { stdio: 'ignore' } }).then((r) => { console.log(r.child.pid); console.log(r.cgroup); process.exit(0); });",
    );
    assert.equal(code, 0, stderr);
    const [pid, cgroup] = stdout.trim().split('\n');
    try {
      assert.ok(!fs.existsSync(cgroup));
      assert.ok(fs.existsSync(`/proc/${pid}`));
    } finally {
      spawnSync('kill', [pid]);
    }
  });

  it('node killed (SIGKILL) mid-command: the next captureCommand removes the cgroup it left', async function () {
    const child = spawn(
      process.execPath,
      ['-e', `require(${JSON.stringify(ROOT)}).captureCommand('sleep', ['0.5']).then((r) => console.log(r.cgroup, r.child.pid))`],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const [cgroup, pid] = (await new Promise((resolve) => child.stdout.once('data', resolve))).toString().trim().split(' ');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.ok(fs.existsSync(cgroup), 'nothing could remove it yet');
    await until('the command exited', () => !fs.existsSync(`/proc/${pid}`));
    const ino = fs.statSync(cgroup).ino;
    await until('its capture links gone with the process', () => linksOn(ino).length === 0);
    const next = await captureCommand('true');
    assert.ok(!fs.existsSync(cgroup), 'the dead process left it: removed');
    await next.exited;
  });

  it('node killed while the command still runs: the next captureCommand moves it out and removes the cgroup', async function () {
    const child = spawn(
      process.execPath,
      ['-e', `require(${JSON.stringify(ROOT)}).captureCommand('sleep', ['30']).then((r) => console.log(r.cgroup, r.child.pid))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [cgroup, pid] = (await new Promise((resolve) => child.stdout.once('data', resolve))).toString().trim().split(' ');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    try {
      const next = await captureCommand('true');
      assert.ok(!fs.existsSync(cgroup));
      assert.equal(cgroupOf(pid), path.dirname(cgroup), 'the orphan moved to the cgroup above');
      await next.exited;
    } finally {
      spawnSync('kill', [pid]);
    }
  });
});

describe('captureCommand: reading a finished capture', function () {
  before(async function () {
    await requirePrivileges(this, ['python3']);
    await requireFeature(this, 'cgroupCapture');
  });

  it('"no traffic": after exited, packets(), the batch loop and stats() work and say none', async function () {
    const run = await captureCommand('true');
    await run.exited;
    const packets = [];
    for await (const p of run.capturer.packets()) packets.push(p);
    assert.deepEqual(packets, []);
    for await (const _ of run.capturer) assert.fail('no batch');
    assert.equal(run.capturer.stats().packets, 0);
  });

  it('with traffic: the first loop after exited has every packet, a later loop ends at once (the same rule)', async function () {
    const sink = dgram.createSocket('udp4');
    await new Promise((resolve) => sink.bind(PORT + 1, '127.0.0.1', resolve));
    try {
      const send = `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(4): s.sendto(b'y', ('127.0.0.1', ${PORT + 1}))`;
      const run = await captureCommand('python3', ['-c', send], { filter: `udp port ${PORT + 1}` });
      await run.exited;
      let first = 0;
      for await (const _ of run.capturer.packets()) first++;
      assert.equal(first, 4);
      let second = 0;
      for await (const _ of run.capturer.packets()) second++;
      assert.equal(second, 0);
      assert.equal(run.capturer.stats().packets, 4);
    } finally {
      sink.close();
    }
  });
});

describe('TLS of one command or cgroup, confined in the kernel', function () {
  let cert;
  let server;
  let port;

  before(async function () {
    await requirePrivileges(this, ['openssl', 'curl', 'bpftool', 'capsh']);
    await requireFeature(this, 'cgroupCapture');
    await requireFeature(this, 'uprobe');
    cert = certificate();
    server = await startServer(process.execPath, ['-e', NODE_SERVER, cert.key, cert.cert], /listening \d+/);
    port = Number(/listening (\d+)/.exec(server.readyOutput)[1]);
  });

  after(async function () {
    await stop(server);
    if (cert) fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  const curl = (marker) => ['-sk', `https://127.0.0.1:${port}/${marker}`];
  // curl outside any test cgroup, its stdin closed.
  const curlOutside = async (marker) => assert.equal((await run('curl', curl(marker))).stdout, `path=/${marker}`);
  const text = (events) => Buffer.concat(events.map((e) => e.data)).toString('latin1');

  it("captureCommand('curl', ..., { tls: 'required' }) sees curl's request, not a concurrent curl outside", async function () {
    const outside = [];
    for (let i = 0; i < 5; i++) outside.push(curlOutside(`outside-${i}`));
    const run = await captureCommand('curl', curl('inside-marker'), { tls: 'required', spawn: { stdio: ['ignore', 'pipe', 'inherit'] } });
    for (let i = 5; i < 10; i++) outside.push(curlOutside(`outside-${i}`));
    let body = '';
    run.child.stdout.on('data', (d) => (body += d));
    assert.equal(run.capturer.selection.tls.active, true, run.capturer.selection.tls.reason);
    const events = [];
    const reading = (async () => {
      for await (const ev of run.capturer.tls) events.push(ev);
    })();
    assert.deepEqual(await run.exited, { code: 0, signal: null });
    await reading;
    await Promise.all(outside);
    assert.equal(body, 'path=/inside-marker');
    const all = text(events);
    assert.match(all, /GET \/inside-marker HTTP\/1\.1/);
    assert.match(all, /path=\/inside-marker/);
    assert.doesNotMatch(all, /outside/);
    assert.deepEqual([...new Set(events.map((e) => e.pid))], [run.child.pid]);
  });

  it('openCapturer({ cgroup, tls }) confines TLS to the cgroup and its descendants; tls.cgroup can name it for any capture', async function () {
    const cgroup = createCgroup();
    try {
      const leaf = path.join(cgroup.dir, 'leaf');
      fs.mkdirSync(leaf);
      for (const options of [
        { cgroup: cgroup.dir, tls: 'required' },
        { interfaces: ['lo'], filter: `tcp port ${port}`, tls: { mode: 'required', cgroup: cgroup.name } },
      ]) {
        const cap = await openCapturer(options);
        const events = [];
        const reading = (async () => {
          for await (const ev of cap.tls) events.push(ev);
        })();
        await Promise.all([runIn(leaf, 'curl', curl('in-cgroup')), curlOutside('not-in-cgroup')]);
        await cap.close();
        await reading;
        const all = text(events);
        assert.match(all, /GET \/in-cgroup /, JSON.stringify(options));
        assert.doesNotMatch(all, /not-in-cgroup/, JSON.stringify(options));
      }
      // A bad path is the caller's mistake, whatever the mode: no capture opens.
      await assert.rejects(openCapturer({ interfaces: ['lo'], tls: { cgroup: path.join(cgroup.dir, 'none') } }), {
        code: 'ERR_NO_SUCH_CGROUP',
      });
    } finally {
      cgroup.remove();
    }
  });

  it('packets: false captures TLS only: no packet program, nothing queued, the backend chosen as without it', async function () {
    const normal = await openCapturer({});
    const chosen = normal.backend;
    await normal.close();
    const held = objectsOf(process.pid).progs;
    const cap = await openCapturer({ tls: 'required', packets: false });
    assert.equal(cap.backend, chosen);
    assert.match(cap.selection.reasons.at(-1), /packets: false/);
    const mine = new Set([...objectsOf(process.pid).progs].filter((id) => !held.has(id)));
    const types = bpfList('prog')
      .filter((p) => mine.has(p.id))
      .map((p) => p.type);
    // The TLS plugin's: its uprobes, and its syscall hook (a raw tracepoint), no packet program.
    assert.ok(
      types.includes('kprobe') && types.every((t) => t === 'kprobe' || t === 'raw_tracepoint'),
      `only the TLS plugin's programs: ${types}`,
    );
    const events = [];
    const reading = (async () => {
      for await (const ev of cap.tls) events.push(ev);
    })();
    await curlOutside('tls-only');
    await cap.close();
    await reading;
    assert.match(text(events), /GET \/tls-only /);
    for await (const _ of cap) assert.fail('no packets');
    assert.equal(cap.stats().packets, 0);
    for (const bad of [{ packets: false }, { packets: false, tls: 'auto', filter: 'tcp' }, { packets: 'no', tls: 'auto' }]) {
      await assert.rejects(openCapturer(bad), { code: 'ERR_INVALID_OPTION' }, JSON.stringify(bad));
    }
  });

  it('packets: false where eBPF cannot run: the backend selection chooses with packets, TLS off with why, or ERR_TLS_UNAVAILABLE', async function () {
    const { runChild } = require('./helpers/hosts');
    const host = 'without CAP_SYS_ADMIN/CAP_BPF/CAP_PERFMON';
    const withPackets = await runChild(host, { tls: 'auto', count: 1, timeout: 100 }, () => {});
    const without = await runChild(host, { tls: 'auto', packets: false, count: 1, timeout: 100 }, () => {});
    assert.equal(without.ready?.backend, withPackets.ready?.backend, JSON.stringify(without));
    assert.equal(without.ready.backend, 'raw-socket');
    assert.equal(without.ready.selection.tls.active, false);
    assert.match(without.ready.selection.tls.reason, /runs only on the eBPF backend/);
    assert.deepEqual(without.done.captured, 0);
    const required = await runChild(host, { tls: 'required', packets: false, count: 1, timeout: 100 }, () => {});
    assert.equal(required.error?.code, 'ERR_TLS_UNAVAILABLE', JSON.stringify(required));
  });

  it('TLS off: cap.tls is undefined, `cap.tls ?? []` ends at once, and selection.tls.reason says why', async function () {
    const cap = await openCapturer({ interfaces: ['lo'] });
    try {
      assert.equal(cap.tls, undefined);
      for await (const _ of cap.tls ?? []) assert.fail('no events');
      assert.equal(cap.selection.tls.active, false);
      assert.match(cap.selection.tls.reason, /not requested/);
    } finally {
      await cap.close();
    }
  });
});

describe('tapwire capture -q', function () {
  before(async function () {
    await requirePrivileges(this, ['sh']);
  });

  it("is accepted (tcpdump's quiet style is the output's already) and prints the same lines", async function () {
    const BIN = path.join(ROOT, 'bin', 'tapwire.js');
    const sink = dgram.createSocket('udp4');
    await new Promise((resolve) => sink.bind(PORT + 2, '127.0.0.1', resolve));
    try {
      const outputs = [];
      for (const flags of [['-q'], ['-nq'], []]) {
        const send = setInterval(() => sink.send('q', PORT + 2, '127.0.0.1'), 50);
        const { code, stdout, stderr } = await run(process.execPath, [
          BIN,
          'capture',
          ...flags,
          '-i',
          'lo',
          '-c',
          '1',
          `udp port ${PORT + 2}`,
        ]);
        clearInterval(send);
        assert.equal(code, 0, stderr);
        outputs.push(stdout.replace(/^\S+ /, ''));
      }
      assert.match(outputs[0], /127\.0\.0\.1\.\d+ > 127\.0\.0\.1\.5613: UDP, length 1/);
      assert.deepEqual(new Set(outputs).size, 1);
    } finally {
      sink.close();
    }
  });
});
