'use strict';
// Every cgroup layout this machine can make, each in a private mount namespace (the
// host's own mounts are never touched): cgroup v2 alone at /sys/fs/cgroup, beside v1 at
// /sys/fs/cgroup/unified (the host here), mounted elsewhere, not mounted in the
// namespace (found through an ancestor's root, as under `ip netns exec`), and not
// found at all (a pid namespace hides every ancestor). In each, captureCommand, the
// CLI's `-- CMD`, the `cgroup` option by a relative path and attribution's container
// ids work, or fail with ERR_NO_SUCH_CGROUP saying what to mount.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { probe } = require('..');
const { requireFeature } = require('./helpers/features');
const { requirePrivileges } = require('./helpers/privileged');
const { createLink, removeLink } = require('./helpers/netns');
const { tsharkFields } = require('./helpers/files');
const { run } = require('./helpers/tools');

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'tapwire.js');
const PORT = 5621;
// A container's id, as a runtime names its cgroup: docker-<64 hex>.scope.
const HEX = crypto.randomBytes(32).toString('hex');
const SEND = `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(3): s.sendto(b'L', ('127.0.0.1', ${PORT}))`;

// Runs in the layout: what each way of capturing a cgroup did, as one JSON line.
const CHILD = `
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const tapwire = require(${JSON.stringify(ROOT)});
const { cgroup2Root } = require(${JSON.stringify(path.join(ROOT, 'dist', 'cgroup'))});
const failed = (e) => ({ error: e.code ?? e.message, message: e.message });
(async () => {
  const out = { root: cgroup2Root() ?? null };
  try {
    const cmd = await tapwire.captureCommand('python3', ['-c', ${JSON.stringify(SEND)}], { filter: 'udp port ${PORT}', spawn: { stdio: 'ignore' } });
    await cmd.exited;
    let packets = 0;
    for await (const _ of cmd.capturer.packets()) packets++;
    out.command = { packets, removed: !fs.existsSync(cmd.cgroup) };
  } catch (e) {
    out.command = failed(e);
  }
  const name = 'docker-${HEX}.scope';
  const dir = out.root && path.join(out.root, name);
  try {
    if (dir) fs.mkdirSync(dir);
    const cap = await tapwire.openCapturer({ cgroup: name, attribution: true, filter: 'udp port ${PORT}' });
    const child = spawn('sh', ['-c', 'echo 0 > "$0/cgroup.procs" && exec python3 -c "$1"', dir, ${JSON.stringify(SEND)}], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    await cap.close();
    const containers = [];
    for await (const p of cap.packets()) containers.push(p.process?.container?.id ?? null);
    out.cgroup = { packets: containers.length, containers: [...new Set(containers)] };
    // The same cgroup by its absolute path as the process that mounted cgroup v2 sees it.
    const seenThere = dir.startsWith('/proc/') ? '/' + dir.split('/').slice(4).join('/') : dir; // less /proc/PID/root
    await (await tapwire.openCapturer({ cgroup: seenThere })).close();
    out.cgroup.absolute = 'opened';
  } catch (e) {
    out.cgroup = failed(e);
  } finally {
    if (dir && fs.existsSync(dir)) fs.rmdirSync(dir);
  }
  try {
    // Attribution on every interface (tcx, Linux 6.6+) links its hooks at the root of the tree.
    await (await tapwire.openCapturer({ interfaces: ['lo'], attribution: true })).close();
    out.interfaces = 'opened';
  } catch (e) {
    out.interfaces = failed(e);
  }
  console.log(JSON.stringify(out));
})();`;

/** Runs the child in a private mount namespace after `setup` (shell), as `wrap` (more unshare flags) says. */
async function inLayout(setup, wrap = []) {
  const script = `mount --make-rprivate / && ${setup} && exec "$0" -e "$1"`;
  const { code, stdout, stderr } = await run('unshare', ['-m', ...wrap, 'sh', '-c', script, process.execPath, CHILD]);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

let tcxAttribution;

function assertWorks(out, root) {
  assert.equal(out.root, root);
  if (tcxAttribution) assert.equal(out.interfaces, 'opened');
  assert.deepEqual(out.command, { packets: 3, removed: true });
  assert.deepEqual(out.cgroup, { packets: 3, containers: [HEX], absolute: 'opened' });
}

describe('cgroup layouts: captureCommand, -- CMD, the cgroup option and attribution in each', function () {
  let elsewhere;

  before(async function () {
    await requirePrivileges(this, ['unshare', 'mount', 'umount', 'python3', 'tshark', 'ip']);
    await requireFeature(this, 'cgroupCapture');
    await requireFeature(this, 'cgroupAttribution');
    tcxAttribution = (await probe()).features.tcxAttribution.ok;
    elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-cg2-'));
  });

  after(function () {
    if (elsewhere) fs.rmSync(elsewhere, { recursive: true, force: true });
  });

  it('cgroup v2 alone at /sys/fs/cgroup (pure v2)', async function () {
    assertWorks(await inLayout('umount -R /sys/fs/cgroup; mount -t cgroup2 none /sys/fs/cgroup'), '/sys/fs/cgroup');
  });

  it('cgroup v2 at /sys/fs/cgroup/unified beside v1 controllers (hybrid)', async function () {
    const setup = [
      'umount -R /sys/fs/cgroup',
      'mount -t tmpfs tmpfs /sys/fs/cgroup',
      'mkdir /sys/fs/cgroup/unified /sys/fs/cgroup/pids',
      'mount -t cgroup2 none /sys/fs/cgroup/unified',
      // A v1 hierarchy beside it; where v1's pids controller is bound to v2, naming it alone fails: then only v2 is there.
      '{ mount -t cgroup -o pids none /sys/fs/cgroup/pids 2>/dev/null || true; }',
    ].join(' && ');
    assertWorks(await inLayout(setup), '/sys/fs/cgroup/unified');
  });

  it('cgroup v2 mounted somewhere else', async function () {
    assertWorks(await inLayout(`umount -R /sys/fs/cgroup; mount -t cgroup2 none ${elsewhere}`), elsewhere);
  });

  it('no cgroup mount in the namespace: found through the parent process', async function () {
    const out = await inLayout('umount -R /sys/fs/cgroup');
    assert.match(out.root, /^\/proc\/\d+\/root\//);
    assertWorks(out, out.root);
  });

  it('no cgroup v2 to be found at all: ERR_NO_SUCH_CGROUP says what to mount', async function () {
    const out = await inLayout('umount -R /sys/fs/cgroup', ['-p', '-f', '--mount-proc']);
    assert.equal(out.root, null);
    const failures = [
      ['ERR_NO_SUCH_CGROUP', out.command],
      ['ERR_NO_SUCH_CGROUP', out.cgroup],
      ...(tcxAttribution ? [['ERR_ATTRIBUTION_UNAVAILABLE', out.interfaces]] : []),
    ];
    for (const [code, what] of failures) {
      assert.equal(what.error, code, JSON.stringify(what));
      assert.match(what.message, /mount -t cgroup2 none \/sys\/fs\/cgroup/);
    }
  });

  it('ip netns exec NS tapwire capture -w f.pcapng -- CMD, and captureCommand there', async function () {
    const link = createLink();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-layout-'));
    try {
      const file = path.join(dir, 'f.pcapng');
      const cli = await run('ip', [
        'netns',
        'exec',
        link.ns,
        process.execPath,
        BIN,
        'capture',
        '-w',
        file,
        `udp port ${PORT}`,
        '--',
        'python3',
        '-c',
        `${SEND}\nraise SystemExit(4)`,
      ]);
      assert.equal(cli.code, 4, cli.stderr);
      assert.match(cli.stderr, /^3 packets captured$/m);
      const rows = tsharkFields(file, ['udp.dstport', 'data.data']);
      assert.deepEqual(
        rows.map((r) => [r['udp.dstport'], r['data.data']]),
        Array(3).fill([String(PORT), '4c']),
      );
      const api = await run('ip', ['netns', 'exec', link.ns, process.execPath, '-e', CHILD]);
      assert.equal(api.code, 0, api.stderr);
      const out = JSON.parse(api.stdout.trim().split('\n').at(-1));
      assert.match(out.root, /^\/proc\/\d+\/root\//);
      assertWorks(out, out.root);
    } finally {
      removeLink(link);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
