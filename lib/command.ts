/**
 * captureCommand(): runs a command in a cgroup of its own with a capture of that cgroup
 * opened first, so the capture holds every packet of the command and of its children,
 * from before the first one until the command exits, and no other process's.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Capturer } from './capturer';
import { cgroup2Mount } from './cgroup';
import { fromFileSystem, InvalidOptionError, NoSuchCgroupError } from './errors';
import { openCapturer } from './open';
import type { CaptureOptions } from './options';

export interface CommandCaptureOptions extends Omit<CaptureOptions, 'cgroup' | 'interfaces' | 'netns' | 'file'> {
  /** How the command is started (child_process.spawn's options; default stdio: 'inherit'). */
  spawn?: SpawnOptions;
}

export interface CommandCapture {
  /** Ends (closes, having delivered everything) when the command exits. */
  capturer: Capturer;
  child: ChildProcess;
  /** The cgroup v2 directory the command runs in; removed once it is empty. */
  cgroup: string;
  /** The command's exit, once the capture has closed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let made = 0;

/** This process's cgroup v2 directory: new cgroups are made below it. */
function ownCgroup(mount: string): string {
  const line = fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  if (!line) throw new NoSuchCgroupError(mount, 'this process is in no cgroup v2 hierarchy');
  return path.join(mount, line.slice(3));
}

/** Removes the command's cgroup once nothing runs in it (its children may outlive it). */
function removeWhenEmpty(dir: string): void {
  const attempt = (left: number): void => {
    try {
      fs.rmdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EBUSY' && left > 0) setTimeout(() => attempt(left - 1), 100).unref();
    }
  };
  attempt(50);
}

export async function captureCommand(
  command: string,
  args: readonly string[] = [],
  options: CommandCaptureOptions = {},
): Promise<CommandCapture> {
  if (typeof command !== 'string' || command === '') throw new InvalidOptionError('captureCommand needs a command to run');
  const { spawn: spawnOptions, ...captureOptions } = options;
  for (const key of ['cgroup', 'interfaces', 'netns', 'file'] as const) {
    if ((captureOptions as CaptureOptions)[key] !== undefined) {
      throw new InvalidOptionError(`captureCommand captures the command's own cgroup: ${key} cannot be given`);
    }
  }
  const mount = cgroup2Mount();
  if (!mount) throw new NoSuchCgroupError('(none)', 'cgroup v2 is not mounted here: a command is captured by its cgroup');
  const dir = path.join(ownCgroup(mount), `tapwire-${process.pid}-${made++}`);
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    throw fromFileSystem(err, 'create the cgroup', dir);
  }
  let capturer: Capturer;
  try {
    capturer = await openCapturer({ ...captureOptions, cgroup: dir });
  } catch (err) {
    fs.rmdirSync(dir);
    throw err;
  }
  // The shell joins the cgroup ("0": itself) and only then becomes the command, so its
  // first packet is already the cgroup's.
  const child = spawn('/bin/sh', ['-c', 'echo 0 > "$0/cgroup.procs" && exec "$@"', dir, command, ...args], {
    stdio: 'inherit',
    ...spawnOptions,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    let settled = false;
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      void capturer.close().then(() => {
        removeWhenEmpty(dir);
        resolve({ code, signal });
      });
    };
    child.once('exit', done);
    child.once('error', () => done(127, null));
  });
  return { capturer, child, cgroup: dir, exited };
}
