/**
 * The processes packets are attributed to: the kernel records each socket's owner (pid,
 * command, cgroup id) when a process creates or uses it; this table adds what /proc
 * says of the pid (executable, arguments, cgroup path and so the container), read once
 * per process and kept, with a bound, so a process that has exited keeps what was known.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cgroup2Root } from '../cgroup';
import { containerOf } from './container';
import type { Container, PacketProcess } from './types';

/** Processes kept; past it the oldest is forgotten (and read again if seen again). */
const BOUND = 4096;
/** Command names kept per process: each thread names itself, and a socket its thread. */
const COMMS = 64;
/** Least time between walks of the cgroup tree for an id not found. */
const RESCAN_MS = 1000;

interface Entry {
  cgroupId: number;
  /** /proc/PID/stat's start time: a pid with another is another process (the pid was reused). */
  start: string | null;
  exe: string | null;
  cmdline: readonly string[] | null;
  container: Container | null;
  byComm: Map<string, PacketProcess>;
}

function readOrNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}

function startTime(pid: number): string | null {
  const stat = readOrNull(() => fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  // The command may hold spaces and parentheses: count fields after its last ')'.
  return stat === null ? null : (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null);
}

/** Whether the live process `pid` started at another time than the one `entry` describes (a gone one keeps what was known). */
function reused(entry: Entry, pid: number): boolean {
  const now = startTime(pid);
  return entry.start !== null && now !== null && now !== entry.start;
}

/** Bounded, oldest first out: a Map keeps insertion order. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, bound: number): V {
  map.set(key, value);
  if (map.size > bound) map.delete(map.keys().next().value!);
  return value;
}

export class ProcessTable {
  readonly #byPid = new Map<number, Entry>();
  readonly #byCgroup = new Map<number, PacketProcess>();
  #cgroupPaths = new Map<number, string>();
  #scannedAt = -Infinity;

  /** The process the kernel named: `pid` with `comm` in cgroup `cgroupId`; a cgroup alone when pid is 0. */
  lookup(pid: number, comm: string, cgroupId: number): PacketProcess {
    if (pid === 0) return this.#cgroupOnly(cgroupId);
    let entry = this.#byPid.get(pid);
    const known = entry?.cgroupId === cgroupId ? entry.byComm.get(comm) : undefined;
    if (known) return known;
    // A command or cgroup not seen for this pid: another thread, the process moved, or
    // (if its start time differs) another process under a reused pid.
    if (!entry || entry.cgroupId !== cgroupId || reused(entry, pid)) {
      entry = this.#read(pid, cgroupId);
      this.#byPid.delete(pid);
      remember(this.#byPid, pid, entry, BOUND);
    }
    const { exe, cmdline, container } = entry;
    return remember(entry.byComm, comm, Object.freeze({ pid, comm, cgroupId, exe, cmdline, container }), COMMS);
  }

  #read(pid: number, cgroupId: number): Entry {
    const exe = readOrNull(() => fs.readlinkSync(`/proc/${pid}/exe`));
    const args = readOrNull(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    const cmdline = args === null || args === '' ? null : Object.freeze(args.replace(/\0$/, '').split('\0'));
    return { cgroupId, start: startTime(pid), exe, cmdline, container: this.#containerOf(cgroupId, pid), byComm: new Map() };
  }

  #cgroupOnly(cgroupId: number): PacketProcess {
    const known = this.#byCgroup.get(cgroupId);
    if (known) return known;
    const info = Object.freeze({ pid: null, comm: null, cgroupId, exe: null, cmdline: null, container: this.#containerOf(cgroupId) });
    return remember(this.#byCgroup, cgroupId, info, BOUND);
  }

  /** From the live process's cgroup file, else by finding the cgroup's directory by its id. */
  #containerOf(cgroupId: number, pid?: number): Container | null {
    const line = pid === undefined ? null : readOrNull(() => fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    const v2 = line
      ?.split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3);
    const cgroupPath = v2 ?? this.#cgroupPath(cgroupId);
    return cgroupPath === undefined ? null : containerOf(cgroupPath);
  }

  /** The path (under the cgroup v2 mount) of the cgroup with this id: a walk, redone at most once a second for an id not found. */
  #cgroupPath(cgroupId: number): string | undefined {
    if (!this.#cgroupPaths.has(cgroupId) && performance.now() - this.#scannedAt >= RESCAN_MS) {
      this.#cgroupPaths = scanCgroups();
      this.#scannedAt = performance.now();
    }
    return this.#cgroupPaths.get(cgroupId);
  }
}

/** Every cgroup v2 directory by id (its inode number). */
function scanCgroups(): Map<number, string> {
  const found = new Map<number, string>();
  const root = cgroup2Root();
  if (!root) return found;
  const walk = (dir: string, rel: string, depth: number): void => {
    const st = readOrNull(() => fs.statSync(dir));
    if (!st) return;
    found.set(st.ino, rel === '' ? '/' : rel);
    if (depth > 16) return;
    for (const e of readOrNull(() => fs.readdirSync(dir, { withFileTypes: true })) ?? []) {
      if (e.isDirectory()) walk(path.join(dir, e.name), `${rel}/${e.name}`, depth + 1);
    }
  };
  walk(root, '', 0);
  return found;
}
