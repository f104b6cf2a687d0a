'use strict';
// The processes the harness starts (sender, capturers, the UDP sink): each in its own
// session, so a terminal's ^C reaches only the harness, which ends them all.
const { spawn, execFileSync } = require('node:child_process');

const children = new Set(); // every process we started that may still run

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Starts a process in its own session (a terminal's ^C reaches only us). */
function start(args, { env, name }) {
  const proc = spawn(args[0], args.slice(1), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const c = { proc, name, pid: proc.pid, out: '', err: '', code: undefined };
  children.add(c);
  proc.stdout.setEncoding('utf8').on('data', (d) => {
    c.out += d;
  });
  proc.stderr.setEncoding('utf8').on('data', (d) => {
    c.err += d;
  });
  c.exited = new Promise((resolve) => {
    proc.on('error', (e) => {
      c.err += `\nspawn error: ${e.message}`;
    });
    proc.on('close', (code, signal) => {
      c.code = code ?? signal;
      children.delete(c);
      resolve(c.code);
    });
  });
  return c;
}

function killGroup(c, sig) {
  try {
    process.kill(-c.pid, sig);
  } catch {
    /* gone */
  }
}

async function stop(c, graceMs) {
  if (c.code !== undefined) return;
  const t = setTimeout(() => killGroup(c, 'SIGKILL'), graceMs);
  await c.exited;
  clearTimeout(t);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(c, re, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (re.test(c.out) || re.test(c.err)) return true;
    if (c.code !== undefined) return false;
    await sleep(20);
  }
  return false;
}

function kv(text) {
  const o = {};
  for (const m of text.matchAll(/(\w+)=(-?\d+(?:\.\d+)?)/g)) o[m[1]] = Number(m[2]);
  return o;
}

/** Kills every process started here that may still run. */
function killAll() {
  for (const c of children) killGroup(c, 'SIGKILL');
}

module.exports = { run, start, killGroup, stop, sleep, waitFor, kv, killAll };
