'use strict';
// A container's libssl is a file of its own mount namespace: this host's path of the
// same name is another file. The TLS plugin must hook the container's one, through
// /proc/PID/root, found from the process's maps or named in `targets`.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { until } = require('./helpers/poll');
const { openCapturer, tlsPlugin } = require('..');
const { requirePrivileges } = require('./helpers/privileged');
const { certificate, startServer, stop, runClient } = require('./helpers/tls-peers');

const HOST_LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';

describe('TLS plugin: a library in another mount namespace', function () {
  let cert;
  let server;
  let port;
  let holder;
  let dir;
  let inside;
  let cap;

  before(async function () {
    requirePrivileges(this, ['openssl', 'unshare', 'nsenter']);
    if (!fs.existsSync(HOST_LIBSSL)) assert.fail(`needs ${HOST_LIBSSL} (libssl3)`);
    cert = certificate();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-mntns-'));
    // What this host sees at the path: a copy, so any mix-up of the two files shows.
    fs.copyFileSync(HOST_LIBSSL, path.join(dir, 'libssl.so.3'));
    // The "container": a private mount namespace with its own libssl at the same path,
    // mapped by a process that stays there.
    holder = spawn(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        `mount -t tmpfs tw-mntns "${dir}" && cp "${HOST_LIBSSL}" "${dir}/" && echo ready && exec env LD_PRELOAD="${dir}/libssl.so.3" sleep 120`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((resolve, reject) => {
      holder.stdout.once('data', resolve);
      holder.once('exit', (code) => reject(new Error(`unshare exited ${code}`)));
    });
    inside = `/proc/${holder.pid}/root${dir}/libssl.so.3`;
    await until('the holder mapping its libssl', () => fs.readFileSync(`/proc/${holder.pid}/maps`, 'utf8').includes(`${dir}/libssl.so.3`));
    port = 20000 + ((process.pid + 7) % 20000);
    server = await startServer(
      'openssl',
      ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', cert.cert, '-key', cert.key, '-www'],
      /ACCEPT/,
    );
  });

  after(async function () {
    await cap?.close();
    await stop(server);
    if (holder && holder.exitCode === null) holder.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (cert) fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  const same = (a, b) => {
    const [x, y] = [fs.statSync(a), fs.statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  };

  it('finds the library a process in another mount namespace maps, by /proc/PID/root', async function () {
    cap = await openCapturer({ interfaces: ['lo'], filter: `tcp port ${port}`, backend: 'ebpf' });
    const plugin = tlsPlugin();
    cap.use(plugin);
    const found = plugin.targets.find((t) => same(t.path, inside));
    assert.ok(found, `no target is the namespace's libssl: ${plugin.targets.map((t) => t.path).join(', ')}`);
    assert.equal(found.path, inside);
    assert.ok(!plugin.targets.some((t) => same(t.path, path.join(dir, 'libssl.so.3'))), "this host's copy is not mapped by anyone");
    await plugin.close();
  });

  it('captures the plaintext of a client in that namespace using its libssl, named as a target', async function () {
    const plugin = tlsPlugin({ targets: [inside] });
    cap.use(plugin);
    assert.ok(plugin.targets.some((t) => t.path === inside));
    const events = [];
    const reading = (async () => {
      for await (const e of plugin) events.push(e);
    })();
    const { pid } = await runClient(
      'nsenter',
      [
        '-t',
        String(holder.pid),
        '-m',
        '--',
        'env',
        `LD_LIBRARY_PATH=${dir}`,
        'openssl',
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-quiet',
      ],
      'GET /from-the-container HTTP/1.0\r\n\r\n',
    );
    await until("the client's read", () => events.some((e) => e.pid === pid && e.direction === 'read'));
    await plugin.close();
    await reading;
    const writes = events.filter((e) => e.pid === pid && e.direction === 'write');
    assert.match(Buffer.concat(writes.map((e) => e.data)).toString('latin1'), /GET \/from-the-container HTTP\/1\.0/);
    assert.ok(
      writes.every((e) => e.library === inside),
      `libraries: ${[...new Set(writes.map((e) => e.library))].join(', ')}`,
    );
  });
});
