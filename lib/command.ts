/**
 * captureCommand(): runs a command the way child_process.spawn() does, in a cgroup of
 * its own with a capture of that cgroup opened first, so the capture holds every packet
 * (and, with `tls`, the TLS plaintext) of the command and of its children, from before
 * the first one until the command exits, and no other process's.
 *
 * The command is started by spawn() itself, not by a shell wrapper: its name, its
 * errors ('error' with ENOENT), `signal` and `killSignal` are spawn's own. It is born in
 * its cgroup because this process joins that cgroup for the length of the spawn() call
 * (the child of a fork starts in its parent's cgroup) and leaves it as spawn() returns;
 * libuv's spawn returns once the child has exec'd or failed to. Sockets other threads
 * of this process (libuv's resolver, workers) would create in those few milliseconds
 * would be counted as the command's; this thread creates none while it forks.
 *
 * Its cgroup goes when the command exits: processes the command left running are moved
 * to the cgroup above and the directory is removed at once (no timer). If this process
 * exits first, an 'exit' handler does the same; if it is killed (SIGKILL), the next
 * captureCommand() removes the cgroups of tapwire processes that are gone.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Capturer } from './capturer';
import { ownCgroup } from './cgroup';
import { fromFileSystem, InvalidOptionError } from './errors';
import { openCapturer } from './open';
import type { CaptureOptions } from './options';
import { executableFlavor } from './plugins/tls/targets';
import { tlsMode, type TlsOptions } from './tls';

export interface CommandCaptureOptions extends Omit<CaptureOptions, 'cgroup' | 'interfaces' | 'netns' | 'file' | 'signal'> {
  /** How the command is started (child_process.spawn's options; default stdio: 'inherit'). */
  spawn?: SpawnOptions;
  /**
   * Aborting it kills the command with `killSignal`, as spawn's `signal` does: the child
   * emits an AbortError, the capture ends when the command has exited, and `exited`
   * rejects with that AbortError.
   */
  signal?: AbortSignal;
  /** The signal `signal` kills the command with (default 'SIGTERM', as spawn's). */
  killSignal?: NodeJS.Signals | number;
}

export interface CommandExit {
  /** The command's exit code, or null if a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CommandCapture {
  /** Ends (closes, having delivered everything) when the command exits. */
  capturer: Capturer;
  /** The command, as child_process.spawn() returns it. */
  child: ChildProcess;
  /** The cgroup v2 directory the command runs in; removed once the command has exited. */
  cgroup: string;
  /**
   * Settles once the command has exited and the capture has closed: resolves with how
   * it exited (any code, any signal); rejects with the child's error when the command
   * could not be started (ENOENT, EACCES: the same error the child emits) or when
   * `signal` aborted it (the AbortError; its exit is then `child.exitCode`/`signalCode`).
   */
  exited: Promise<CommandExit>;
}

/** The cgroups made here whose commands have not been cleaned up after yet. */
const live = new Set<string>();
let made = 0;
const NAME = /^tapwire-(\d+)-\d+$/;

/** Whether process `pid` exists (in this pid namespace: a tapwire in another one that shares our cgroup would look dead). */
function alive(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`);
}

/**
 * Empties `dir` into the cgroup above it (processes the command left keep running, as
 * spawn's would) and removes it. Returns false if it could not be removed yet.
 */
function release(dir: string): boolean {
  const up = path.join(path.dirname(dir), 'cgroup.procs');
  // A process that forks while it is moved leaves its child behind: read again until empty.
  for (let pass = 0; pass < 100; pass++) {
    let pids: string[];
    try {
      pids = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    } catch {
      break; // gone already
    }
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        fs.writeFileSync(up, pid);
      } catch {
        // it exited meanwhile
      }
    }
  }
  try {
    fs.rmdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
  }
  live.delete(dir);
  return true;
}

/**
 * Removes `dir` now, or once the kernel has let its last task go (EBUSY just after an
 * exit). The retries need no running timer: `dir` stays in `live` until it is removed,
 * and releaseAllAtExit() finishes the job if this process exits first.
 */
function releaseSoon(dir: string, tries = 50): void {
  if (!release(dir) && tries > 0) setTimeout(() => releaseSoon(dir, tries - 1), 20).unref();
}

function releaseAllAtExit(): void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (const dir of live) {
    // Synchronous: an exiting process runs no timer. A just-killed task may hold the directory for a moment.
    for (let tries = 0; tries < 100 && !release(dir); tries++) Atomics.wait(sleeper, 0, 0, 2);
  }
}

/** Removes the cgroups (beside ours) of tapwire processes that died without removing theirs. */
function removeStale(parent: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const owner = NAME.exec(name);
    if (owner && Number(owner[1]) !== process.pid && !alive(Number(owner[1]))) release(path.join(parent, name));
  }
}

/**
 * With `tls: { keys: true }` and the TLS plugin running: a key log file (mode 0600, in a
 * directory only root can enter) that the command's TLS libraries append their secrets
 * to (SSLKEYLOGFILE for OpenSSL, GnuTLS, curl, python; node's --tls-keylog, as node
 * ignores SSLKEYLOGFILE), followed into cap.tls.secrets; the environment that says so,
 * and what removes the file once the capture is closed.
 */
function keyLog(capturer: Capturer, options: CaptureOptions, env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; remove(): void } | null {
  const tls = options.tls;
  if (!capturer.tls || typeof tls !== 'object' || tls === null || tls.keys !== true) return null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwire-keys-'));
  const file = path.join(dir, 'keylog');
  capturer.tls.followKeyLog(file);
  const nodeOptions = [env.NODE_OPTIONS, `--tls-keylog=${file}`].filter(Boolean).join(' ');
  return {
    env: { ...env, SSLKEYLOGFILE: file, NODE_OPTIONS: nodeOptions },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The file `command` names, as spawn() would find it on PATH, or null. */
function executable(command: string, options: SpawnOptions | undefined): string | null {
  const cwd = typeof options?.cwd === 'string' ? options.cwd : process.cwd();
  const dirs = command.includes('/') ? [cwd] : ((options?.env ?? process.env).PATH ?? '').split(':').filter(Boolean);
  for (const dir of dirs) {
    const file = path.resolve(cwd, dir, command);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * The `tls` option with the command's own executable among the targets when it is a Go
 * binary or links OpenSSL in: hooked before it starts, rather than at its exec, which
 * its first handshake can beat.
 */
function withCommand(tls: CaptureOptions['tls'], command: string, options: SpawnOptions | undefined): CaptureOptions['tls'] {
  if (tlsMode(tls) === 'off') return tls;
  const file = executable(command, options);
  if (file === null || executableFlavor(file) === null) return tls;
  const given: TlsOptions = typeof tls === 'object' && tls !== null ? tls : { mode: tls === 'required' ? 'required' : 'auto' };
  return { ...given, targets: [...(given.targets ?? []), file] };
}

/** Starts the command with this process in `dir` for the length of spawn(), so the child is born there. */
function spawnIn(dir: string, home: string, command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const self = String(process.pid);
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), self);
  } catch (err) {
    throw fromFileSystem(err, 'join the cgroup', dir);
  }
  try {
    return spawn(command, args, options);
  } finally {
    fs.writeFileSync(path.join(home, 'cgroup.procs'), self);
  }
}

export async function captureCommand(
  command: string,
  args: readonly string[] = [],
  options: CommandCaptureOptions = {},
): Promise<CommandCapture> {
  if (typeof command !== 'string' || command === '') throw new InvalidOptionError('captureCommand needs a command to run');
  const { spawn: spawnOptions, signal, killSignal, ...captureOptions } = options;
  for (const key of ['cgroup', 'interfaces', 'netns', 'file'] as const) {
    if ((captureOptions as CaptureOptions)[key] !== undefined) {
      throw new InvalidOptionError(`captureCommand captures the command's own cgroup: ${key} cannot be given`);
    }
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidOptionError('signal must be an AbortSignal');
  signal?.throwIfAborted();
  const home = ownCgroup();
  removeStale(home);
  const dir = path.join(home, `tapwire-${process.pid}-${made++}`);
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    throw fromFileSystem(err, 'create the cgroup', dir);
  }
  if (!process.listeners('exit').includes(releaseAllAtExit)) process.on('exit', releaseAllAtExit);
  live.add(dir);
  let capturer: Capturer;
  let child: ChildProcess;
  let keys: ReturnType<typeof keyLog> = null;
  try {
    capturer = await openCapturer({ ...captureOptions, tls: withCommand(captureOptions.tls, command, spawnOptions), cgroup: dir });
    try {
      signal?.throwIfAborted();
      keys = keyLog(capturer, captureOptions, spawnOptions?.env ?? process.env);
      child = spawnIn(dir, home, command, args, {
        stdio: 'inherit',
        ...spawnOptions,
        ...(keys ? { env: keys.env } : {}),
        ...(signal ? { signal } : {}),
        ...(killSignal !== undefined ? { killSignal } : {}),
      });
    } catch (err) {
      await capturer.close();
      keys?.remove();
      throw err;
    }
  } catch (err) {
    release(dir);
    throw err;
  }
  let settled = false;
  let aborted: Error | null = null;
  // Whether the caller handles the child's 'error' itself: then `exited` rejecting
  // unawaited is no unhandled rejection.
  let callerListens = false;
  let settle: (outcome: CommandExit | Error) => void = () => {};
  const exited = new Promise<CommandExit>((resolve, reject) => {
    settle = (outcome) => {
      if (settled) return;
      settled = true;
      void capturer.close().then(() => {
        keys?.remove();
        if (live.has(dir)) releaseSoon(dir);
        if (outcome instanceof Error) {
          if (callerListens) exited.catch(() => {});
          reject(outcome);
        } else resolve(outcome);
      });
    };
  });
  child.on('error', (err) => {
    callerListens ||= child.listenerCount('error') > 1;
    if (child.pid === undefined)
      settle(err); // it never ran
    else if (err.name === 'AbortError')
      aborted = err; // killed: its exit follows
    else if (!callerListens) throw err; // kill() or send() failed: unhandled, as spawn's would be
  });
  child.once('exit', (code, sig) => settle(aborted ?? { code, signal: sig }));
  return { capturer, child, cgroup: dir, exited };
}
