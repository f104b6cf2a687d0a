/**
 * Where OpenSSL, GnuTLS and Go's crypto/tls live on this host: shared libraries mapped
 * by running processes or found at the usual paths, the node binary (which links
 * OpenSSL in and exports its symbols), the Go binaries processes run, and what the user
 * names. Attached by file, so later processes count too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ElfFile } from './elf';
import { goHooks, isGo, type GoBinary } from './go';

/** Which library a target is, and which OpenSSL struct layout (native/tls/bpf/tls.h). */
export const enum Flavor {
  /** OpenSSL's functions, struct layout unknown: no fd or connection. */
  Unknown = 0,
  OpenSsl11 = 1,
  OpenSsl3 = 2,
  GnuTls = 3,
  /** A Go binary: crypto/tls linked in, hooked by offset. */
  Go = 4,
}

export interface Target {
  path: string;
  flavor: Flavor;
  /** Named in `targets` by the user, rather than found. */
  named: boolean;
  /** Device and inode: the file, whatever path names it. */
  key: string;
  /** The functions hooked, once attached. */
  functions?: string[];
  /** A Go binary's toolchain, e.g. "go1.19.8". */
  go?: string;
  /** With `keys`: why this file gives no secrets (absent: it gives them). */
  noKeys?: string;
}

export interface Skipped {
  path: string;
  named: boolean;
  reason: string;
}

export function wanted(flavor: Flavor): string {
  return flavor === Flavor.GnuTls ? 'gnutls_record_recv and gnutls_record_send' : 'SSL_read, SSL_write or their _ex forms';
}

/** Whether `file` is a Go binary (it has Go's build information); false for anything unreadable. */
export function goBinary(file: string): boolean {
  let elf: ElfFile;
  try {
    elf = new ElfFile(file);
  } catch {
    return false;
  }
  try {
    return isGo(elf);
  } finally {
    elf.close();
  }
}

/** Where to hook the Go binary `file` (with `keys`, its writeKeyLog too); throws an Error whose message is why it cannot be. */
export function goTarget(file: string, keys = false): GoBinary {
  const elf = new ElfFile(file);
  try {
    return goHooks(elf, keys);
  } finally {
    elf.close();
  }
}

const LIBSSL = /\/lib(ssl|gnutls)\.so(\.[0-9.]+)?$/;
const USUAL_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64'];

function flavorOf(file: string): Flavor {
  const base = path.basename(file);
  if (/^libssl\.so\.3/.test(base)) return Flavor.OpenSsl3;
  if (/^libssl\.so\.1\.1/.test(base)) return Flavor.OpenSsl11;
  if (/^libgnutls\.so/.test(base)) return Flavor.GnuTls;
  return Flavor.Unknown;
}

/** The TLS libraries process `pid` maps, by paths that reach them from here. */
export function librariesOf(pid: string | number): string[] {
  let maps: string;
  try {
    maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return []; // gone, or not ours to read
  }
  const found = new Set<string>();
  for (const line of maps.split('\n')) {
    const file = line.slice(line.indexOf('/'));
    // The path is the process's own view; through its /proc/PID/root it names the same
    // file from here too, also when the process is in another mount namespace (a container).
    if (line.includes('/') && LIBSSL.test(file)) found.add(`/proc/${pid}/root${file}`);
  }
  return [...found];
}

function processes(): string[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
}

function usualLibraries(): string[] {
  return USUAL_DIRS.flatMap((dir) => ['libssl.so.3', 'libssl.so.1.1', 'libgnutls.so.30'].map((name) => path.join(dir, name))).filter((f) =>
    fs.existsSync(f),
  );
}

const VIA_PROC_ROOT = /^\/proc\/\d+\/root(\/.*)$/;

/**
 * The path to attach `file` by: its real path here when that is the same file, else the
 * path through /proc/PID/root. (realpath cannot be used on the latter: it reads the
 * /proc/PID/root link as "/" and lands on this mount namespace's file of that name.)
 */
function pathHere(file: string, stat: fs.Stats): string {
  const plain = VIA_PROC_ROOT.exec(file)?.[1] ?? file;
  try {
    const real = fs.realpathSync(plain);
    const here = fs.statSync(real);
    if (here.dev === stat.dev && here.ino === stat.ino) return real;
  } catch {
    // not there in this mount namespace
  }
  return file;
}

/**
 * Every target, each file once (by device and inode, whatever path names it), and the
 * named files that are none; with `pid`, only the libraries that process maps and, with
 * `executable`, the Go binary it runs. Files whose key is in `known` are left out.
 */
export function findTargets(
  extra: string[],
  known: ReadonlySet<string> = new Set(),
  pid?: number,
  executable = false,
): { targets: Target[]; skipped: Skipped[] } {
  const byFile = new Map<string, Target>();
  const skipped: Skipped[] = [];
  // A process's executable counts when it is a Go binary: /proc/PID/exe reaches it from
  // here also in another mount namespace, or deleted since it started.
  const addExecutable = (p: string | number): void => add(`/proc/${p}/exe`, Flavor.Go, false);
  const add = (file: string, flavor: Flavor, named: boolean): void => {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch (err) {
      if (named) skipped.push({ path: file, named, reason: `cannot be read (${(err as NodeJS.ErrnoException).code})` });
      return;
    }
    if (!stat.isFile()) {
      if (named) skipped.push({ path: file, named, reason: 'is not a file' });
      return;
    }
    const key = `${stat.dev}:${stat.ino}`;
    if (known.has(key)) return;
    const found = byFile.get(key);
    if (found) {
      found.named ||= named;
      return;
    }
    // An executable that is no Go binary is no target; a named file that is one is Go's.
    if (flavor === Flavor.Go || (named && flavor === Flavor.Unknown)) {
      if (goBinary(file)) flavor = Flavor.Go;
      else if (flavor === Flavor.Go) return;
    }
    byFile.set(key, { path: pathHere(file, stat), flavor, named, key });
  };
  if (pid !== undefined) {
    for (const lib of librariesOf(pid)) add(lib, flavorOf(lib), false);
    if (executable) addExecutable(pid);
    return { targets: [...byFile.values()], skipped };
  }
  const pids = processes();
  for (const lib of [...pids.flatMap((p) => librariesOf(p)), ...usualLibraries()]) add(lib, flavorOf(lib), false);
  for (const p of pids) addExecutable(p);
  // This node links OpenSSL statically and exports SSL_read and friends.
  add(process.execPath, process.versions.openssl?.startsWith('3.') ? Flavor.OpenSsl3 : Flavor.OpenSsl11, false);
  for (const file of extra) add(file, flavorOf(file), true);
  return { targets: [...byFile.values()], skipped };
}
