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

// OpenSSL linked into an executable: its read and write functions, and symbols that tell
// the builds apart, each in an object file a static link cannot leave out (3.0's
// SSL_CTX_new_ex and BoringSSL's GREASE, beside SSL_read; 1.1.1's TLS 1.3 cipher suites,
// in the cipher list code). Found in libssl itself, not libcrypto: a shared libssl under
// another name is told apart the same way. BoringSSL's struct layout is its own: it is hooked with no
// connection read from its structs (never a guess).
const OPENSSL_DATA = ['SSL_read', 'SSL_read_ex', 'SSL_write', 'SSL_write_ex'];
const OPENSSL_BUILDS = ['SSL_CTX_new_ex', 'SSL_CTX_set_ciphersuites', 'SSL_CTX_set_grease_enabled'];

/** An executable's OpenSSL (linked in, its symbols kept in .dynsym or .symtab) and its layout; null for none. */
function linkedOpenSsl(elf: ElfFile): Flavor | null {
  const names = [...OPENSSL_DATA, ...OPENSSL_BUILDS];
  let symbols = elf.exported(names);
  if (!symbols.has('SSL_read') && !symbols.has('SSL_read_ex')) symbols = elf.defined(names);
  const either = (a: string, b: string): boolean => symbols.has(a) || symbols.has(b);
  if (!either('SSL_read', 'SSL_read_ex') || !either('SSL_write', 'SSL_write_ex')) return null;
  if (symbols.has('SSL_CTX_set_grease_enabled')) return Flavor.Unknown; // BoringSSL
  if (symbols.has('SSL_CTX_new_ex')) return Flavor.OpenSsl3;
  return symbols.has('SSL_CTX_set_ciphersuites') ? Flavor.OpenSsl11 : Flavor.Unknown;
}

/**
 * What an executable links in that is hooked: Go's crypto/tls, else OpenSSL (a static
 * link that keeps its symbols); null for neither, or for a file that cannot be read.
 */
export function executableFlavor(file: string): Flavor | null {
  let elf: ElfFile;
  try {
    elf = new ElfFile(file);
  } catch {
    return null;
  }
  try {
    return isGo(elf) ? Flavor.Go : linkedOpenSsl(elf);
  } catch {
    return null; // cut short, or not laid out as its headers say
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
 * `executable`, the executable it runs where that is a Go binary or links OpenSSL in.
 * Files whose key is in `known` are left out; executables found to be neither are added
 * to it, so the next exec of the same file is not read again.
 */
export function findTargets(
  extra: string[],
  known: Set<string> = new Set(),
  pid?: number,
  executable = false,
): { targets: Target[]; skipped: Skipped[] } {
  const byFile = new Map<string, Target>();
  const skipped: Skipped[] = [];
  // A process's executable counts when it is a Go binary or links OpenSSL in:
  // /proc/PID/exe reaches it from here also in another mount namespace, or deleted
  // since it started.
  const addExecutable = (p: string | number): void => add(`/proc/${p}/exe`, null, false);
  const add = (file: string, flavor: Flavor | null, named: boolean): void => {
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
    // An executable that is neither is no target; a named file whose name says nothing is
    // read the same way (a Go binary, or OpenSSL whose layout its symbols tell).
    if (flavor === null) {
      flavor = executableFlavor(file);
      if (flavor === null) {
        known.add(key);
        return;
      }
    } else if (named && flavor === Flavor.Unknown) {
      flavor = executableFlavor(file) ?? Flavor.Unknown;
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
