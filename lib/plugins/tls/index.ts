/**
 * The TLS plugin: plaintext of OpenSSL's SSL_read/SSL_write (and _ex) calls, of
 * GnuTLS's gnutls_record_recv/gnutls_record_send and of Go's crypto/tls
 * (*Conn).Read/Write, from uprobes, on the eBPF backend only. Created by tlsPlugin(), registered with cap.use() (openCapturer({ tls }) does
 * both), read as an async iterable of events.
 * Kernel mechanics: native/tls/.
 */
import type { Plugin, PluginHost } from '../../backend';
import { BoundedQueue } from '../../bounded-queue';
import { BusyError, ClosedError, InvalidOptionError, TapwireError, fromNative } from '../../errors';
import { native, type TlsCapture } from '../../native';
import type { TlsOptions } from '../../tls';
import { connectionOf, type Connection } from './connection';
import { KeyLogFollower, type TlsSecret } from './key-log';
import { openSslInternals, openSslSecrets } from './openssl';
import { TLS_RECORD as R } from './record';
import { Flavor, findTargets, goTarget, wanted, type Skipped, type Target } from './targets';
import { drainInterval } from '../../drain-interval';
import { resolveCgroup } from '../../cgroup';
import { ringBufferSize } from '../../ring-size';

export type { Connection, Endpoint } from './connection';
export { keyLogLine, type TlsSecret } from './key-log';

// openCapturer({ tls }) sets `cap.tls`: the plugin declares it, so the Capturer knows no plugin.
declare module '../../capturer' {
  interface Capturer {
    /** The TLS plugin openCapturer registered; absent when TLS capture is off. */
    tls?: TlsPlugin;
  }
}

export interface TlsEvent {
  /** When the call returned, ms since the epoch. */
  timestamp: number;
  timestampNs: bigint;
  pid: number;
  tid: number;
  /** The thread's command name. */
  comm: string;
  /** The library or binary whose function moved the data. */
  library: string;
  direction: 'read' | 'write';
  /** The plaintext the call read or wrote. */
  data: Buffer;
  /**
   * Names the TLS connection: unique within the capture, never reused by a later
   * connection (also when the process reuses the SSL object's address).
   */
  stream: string;
  /** The call moved more than MAX_CALL_BYTES (or a chunk was lost): `data` is its start. */
  truncated: boolean;
  /** The socket the call went through, where the library's own socket I/O names it (not Node's own TLS). */
  fd?: number;
  /** That socket's TCP connection when the call was made; absent when not known, never a guess. */
  connection?: Connection;
}

export interface TlsStats {
  events: number;
  bytes: number;
  /** Secrets read, with `keys`. */
  secrets: number;
  /**
   * Records the ring buffer had no room for, bytes of calls beyond MAX_CALL_BYTES,
   * execs whose libraries were not looked for (more than MAX_PENDING_SCANS waiting), and
   * secrets not kept because 16 MiB of them waited unread.
   */
  lost: { records: number; truncatedBytes: number; execScans: number; secrets: number };
}

/** A record's direction when it reports an exec (TAPWIRE_TLS_EXEC), or carries a secret (TAPWIRE_TLS_SECRET). */
const EXEC = 2;
const SECRET = 3;
/** A secret record's data: label, client random and secret at these offsets, each after its length byte (tls.h). */
const SECRET_PARTS = [0, 1 + 48, 2 + 48 + 32] as const;
/** After an exec, when (ms) the process's libraries are looked for: after its loader, and after a start-up dlopen. */
const SCAN_DELAYS_MS = [20, 200, 2000, 10000];
/** Execs waiting for a scan at most: beyond them (an exec storm), execs are counted, not scanned. */
const MAX_PENDING_SCANS = 1024;

/** The functions whose calls carry data: a target without one is not hooked. */
const DATA_FUNCTION =
  /^(SSL_(read|write)(_ex)?|ssl_(read|write)_internal|gnutls_record_(recv|send)|crypto\/tls\.\(\*Conn\)\.(Read|Write))$/;

/** A call's data arrives whole up to this many bytes (64 chunks of 4 KiB, joined here). */
export const MAX_CALL_BYTES = 256 * 1024;
const MiB = 1024 * 1024;
/** Bytes of secrets kept for a reader that has not taken them. */
const SECRETS_WAITING = 16 * MiB;
/** Ring space handed over per batch of records. */
const BATCH_BYTES = 4 * MiB;

interface Partial {
  record: DataView;
  parts: Buffer[];
  received: number;
  expected: number;
}

/** When the call returned, ms since the epoch. */
function timestampOf(record: DataView): number {
  return (record.getUint32(R.TIME_NS + 4, true) * 4294967296 + record.getUint32(R.TIME_NS, true)) / 1e6;
}

function timestampNsOf(record: DataView): bigint {
  return (BigInt(record.getUint32(R.TIME_NS + 4, true)) << 32n) | BigInt(record.getUint32(R.TIME_NS, true));
}

/** The thread's command name, NUL-padded in the record. */
function commOf(record: DataView): string {
  const at = record.byteOffset + R.COMM;
  const nul = new Uint8Array(record.buffer, at, R.COMM_BYTES).indexOf(0);
  return Buffer.from(record.buffer, at, nul < 0 ? R.COMM_BYTES : nul).toString('latin1');
}

export class TlsPlugin implements Plugin, AsyncIterable<TlsEvent> {
  readonly name = 'tls';
  /** Files hooked, once registered, with the functions hooked in each. */
  targets: Target[] = [];
  /** Files found or named that were not hooked, and why. */
  skipped: Skipped[] = [];
  readonly #options: TlsOptions;
  /** The cgroup v2 directory calls are confined to, or null. */
  readonly #cgroup: string | null;
  #native: TlsCapture | undefined;
  readonly #queue = new BoundedQueue<TlsEvent>({
    highWaterMark: 64 * MiB,
    sizeOf: (event) => event.data.length,
    pause: () => this.#native?.pause(),
    resume: () => this.#native?.resume(),
    busy: 'another loop is already reading this TLS plugin',
  });
  readonly #secrets = new BoundedQueue<TlsSecret>({
    // Secrets have no kernel ring of their own to pause: past the mark, they are counted
    // in lost.secrets instead (a reader that never reads them).
    highWaterMark: SECRETS_WAITING,
    sizeOf: (secret) => secret.secret.length + 64,
    pause: () => undefined,
    resume: () => undefined,
    busy: 'another loop is already reading these TLS secrets',
  });
  readonly #followers: KeyLogFollower[] = [];
  /** By target index, a Go binary's writeKeyLog probe address and its labels' addresses. */
  readonly #labels = new Map<number, { probe: number; labels: Map<number, string> }>();
  #secretCount = 0;
  #secretsLost = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #partials = new Map<number, Partial>();
  /** Files hooked or skipped, by device and inode: each is tried once. */
  readonly #known = new Set<string>();
  /** Library scans waiting after an exec, by process. */
  readonly #scans = new Map<number, NodeJS.Timeout>();
  #scansDropped = 0;
  #events = 0;
  #bytes = 0;
  #final: { lostRecords: number; truncatedBytes: number } | undefined;

  /** @internal Use tlsPlugin(). */
  constructor(options: TlsOptions) {
    this.#options = options;
    this.#cgroup = options.cgroup === undefined ? null : resolveCgroup(options.cgroup);
  }

  register(host: PluginHost): void {
    if (this.#closed) throw new ClosedError('TLS plugin');
    if (this.#native) throw new BusyError('this TLS plugin is registered already');
    const o = this.#options;
    const ringSize = ringBufferSize(o.bufferSize ?? 8 * MiB);
    try {
      this.#native = new (native().TlsCapture)(
        {
          ringSize,
          // The kernel wakes the reader once an eighth of the ring is full.
          wakeupBytes: ringSize / 8,
          batchBytes: BATCH_BYTES,
          selfTgid: o.includeSelf ? 0 : process.pid,
          pids: o.pids ?? null,
          cgroup: this.#cgroup,
          drainIntervalMs: drainInterval(host.batchTimeout),
        },
        (buffer) => this.#onRecords(buffer),
      );
      const found = findTargets(o.targets ?? []);
      this.skipped = found.skipped;
      for (const target of found.targets) this.#hook(target, true);
      if (this.targets.length === 0) {
        const why = this.skipped.map((s) => `${s.path} ${s.reason}`).join('; ');
        throw new TapwireError(
          'ERR_TLS_UNAVAILABLE',
          `no OpenSSL, GnuTLS or Go crypto/tls library or binary with its read and write functions was found${why ? `: ${why}` : ''}`,
        );
      }
      this.#native.resume();
    } catch (err) {
      this.#native?.close();
      this.#native = undefined;
      throw err instanceof TapwireError ? err : fromNative(err, 'cannot attach the TLS uprobes', 'CAP_SYS_ADMIN');
    }
  }

  /**
   * Attaches to one file; it joins `targets`, or `skipped` with the reason. A target's
   * index travels with its records to name it. With `strict`, no privilege throws (no
   * file's fault: registration ends); found later, it is that file's reason.
   */
  #hook(target: Target, strict: boolean): void {
    this.#known.add(target.key);
    // A file named only by path may be either library: OpenSSL's functions are tried first.
    const flavors = target.flavor === Flavor.Unknown ? [Flavor.Unknown, Flavor.GnuTls] : [target.flavor];
    try {
      if (target.flavor === Flavor.Go) {
        const go = goTarget(target.path, this.#options.keys === true);
        const keylog = go.hooks.find((h) => h.program === 'keylog');
        if (keylog) this.#labels.set(this.targets.length, { probe: keylog.address, labels: go.labels });
        const functions = this.#native!.attach(target.path, this.targets.length, Flavor.Go, go);
        const noKeys = this.#options.keys === true && !keylog ? 'crypto/tls.(*Config).writeKeyLog was not found' : undefined;
        this.targets.push({ ...target, functions, go: go.version, ...(noKeys && { noKeys }) });
        return;
      }
      // OpenSSL's internal functions, where found, stand in for its exported ones; with
      // keys, the one every secret goes through is hooked too.
      const internals = target.flavor === Flavor.GnuTls ? null : openSslInternals(target.path);
      const keys = target.flavor === Flavor.GnuTls || this.#options.keys !== true ? null : openSslSecrets(target.path);
      for (const flavor of flavors) {
        const where = flavor === Flavor.GnuTls || !(internals || keys) ? undefined : { ...internals, ...keys?.where };
        const functions = this.#native!.attach(target.path, this.targets.length, flavor, where);
        if (functions.some((f) => DATA_FUNCTION.test(f))) {
          if (keys && flavor !== Flavor.GnuTls) this.#labels.set(this.targets.length, { probe: keys.address, labels: keys.labels });
          this.targets.push({ ...target, flavor, functions, ...(this.#options.keys === true && { noKeys: noKeysReason(flavor, keys) }) });
          return;
        }
      }
    } catch (err) {
      // Not an ELF file, or one the kernel cannot probe: that file is skipped.
      if (strict && ['EPERM', 'EACCES'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      this.skipped.push({ path: target.path, named: target.named, reason: (err as Error).message });
      return;
    }
    this.skipped.push({ path: target.path, named: target.named, reason: `exports none of ${flavors.map(wanted).join(', nor ')}` });
  }

  /**
   * A process exec'd: the libraries it maps once its loader has run (and soon after,
   * for a dlopen at start-up) are looked for, and files not hooked yet are hooked.
   * Calls it makes before that are not seen.
   */
  #onExec(pid: number): void {
    if (this.#closing) return;
    // A process that execs again (a shell script, a shim) starts its scans over.
    clearTimeout(this.#scans.get(pid));
    this.#scans.delete(pid);
    if (this.#scans.size >= MAX_PENDING_SCANS) {
      this.#scansDropped++;
      return;
    }
    const scan = (step: number): void => {
      this.#scans.delete(pid);
      if (!this.#native || this.#closing) return;
      // A process's executable does not change until it execs again: looked at once.
      for (const target of findTargets([], this.#known, pid, step === 0).targets) this.#hook(target, false);
      if (step + 1 < SCAN_DELAYS_MS.length)
        this.#scans.set(pid, setTimeout(scan, SCAN_DELAYS_MS[step + 1]! - SCAN_DELAYS_MS[step]!, step + 1).unref());
    };
    this.#scans.set(pid, setTimeout(scan, SCAN_DELAYS_MS[0], 0).unref());
  }

  #onRecords(buffer: ArrayBuffer): void {
    const view = new DataView(buffer);
    for (let at = 0; at + R.HEADER_BYTES <= buffer.byteLength;) {
      const chunkLen = view.getUint32(at + R.CHUNK_LEN, true);
      const record = new DataView(buffer, at, R.HEADER_BYTES);
      const chunk = Buffer.from(buffer, at + R.HEADER_BYTES, chunkLen);
      at += (R.HEADER_BYTES + chunkLen + R.ALIGN - 1) & ~(R.ALIGN - 1);
      if (record.getUint8(R.DIRECTION) === EXEC) {
        this.#onExec(record.getUint32(R.PID, true));
        continue;
      }
      if (record.getUint8(R.DIRECTION) === SECRET) {
        this.#onSecret(record, chunk);
        continue;
      }
      // A thread's calls return one after another, and a call's chunks are reserved in
      // order: chunks join per thread, and offset 0 starts the next call.
      const tid = record.getUint32(R.TID, true);
      const offset = record.getUint32(R.OFFSET, true);
      const expected = Math.min(record.getUint32(R.TOTAL_LEN, true), MAX_CALL_BYTES);
      let p = this.#partials.get(tid);
      if (p && offset === 0) {
        this.#partials.delete(tid);
        this.#emit(p.record, Buffer.concat(p.parts), true);
        p = undefined;
      }
      if (!p) {
        if (chunkLen === expected) {
          this.#emit(record, chunk, record.getUint8(R.TRUNCATED) !== 0);
          continue;
        }
        p = { record, parts: [], received: 0, expected };
        this.#partials.set(tid, p);
      }
      p.parts.push(chunk);
      p.received += chunkLen;
      if (p.received >= p.expected) {
        this.#partials.delete(tid);
        this.#emit(p.record, Buffer.concat(p.parts), p.record.getUint8(R.TRUNCATED) !== 0);
      }
    }
  }

  #libraryOf(record: DataView): string {
    return this.targets[record.getUint16(R.TARGET, true)]?.path ?? 'unknown';
  }

  #emit(record: DataView, data: Buffer, truncated: boolean): void {
    const fd = record.getInt32(R.FD, true);
    // One literal, not a spread of #common(): V8 cloned the spread object's map for
    // every event, about 5 µs each (measured), most of the plugin's CPU on busy links.
    const event: TlsEvent = {
      timestamp: timestampOf(record),
      timestampNs: timestampNsOf(record),
      pid: record.getUint32(R.PID, true),
      tid: record.getUint32(R.TID, true),
      comm: commOf(record),
      library: this.#libraryOf(record),
      direction: record.getUint8(R.DIRECTION) ? 'write' : 'read',
      data,
      stream: String(record.getUint32(R.STREAM + 4, true) * 4294967296 + record.getUint32(R.STREAM, true)),
      truncated,
    };
    if (fd >= 0) event.fd = fd;
    const connection = connectionOf(record);
    if (connection) event.connection = connection;
    this.#events++;
    this.#bytes += event.data.length;
    this.#queue.push(event);
  }

  #onSecret(record: DataView, data: Buffer): void {
    const [read, random, secret] = SECRET_PARTS.map((at) => data.subarray(at + 1, at + 1 + (data[at] ?? 0))) as [Buffer, Buffer, Buffer];
    const label = read.length > 0 ? read.toString('latin1') : this.#labelAt(record);
    if (label === undefined) {
      this.#secretsLost++;
      return;
    }
    this.#pushSecret({
      timestamp: timestampOf(record),
      timestampNs: timestampNsOf(record),
      pid: record.getUint32(R.PID, true),
      comm: commOf(record),
      source: 'uprobe',
      library: this.#libraryOf(record),
      label,
      clientRandom: Buffer.from(random),
      secret: Buffer.from(secret),
    });
  }

  /**
   * The label the probe could not read, by its address: the record carries it and the
   * probe's own, so the binary's load offset (a position-independent one's) cancels out.
   */
  #labelAt(record: DataView): string | undefined {
    const file = this.#labels.get(record.getUint16(R.TARGET, true));
    if (!file) return undefined;
    const address = record.getBigUint64(R.SSL, true) - (record.getBigUint64(R.STREAM, true) - BigInt(file.probe));
    return file.labels.get(Number(address));
  }

  #pushSecret(secret: TlsSecret): void {
    if (this.#closed) return;
    this.#secretCount++;
    if (this.#secrets.bytes > SECRETS_WAITING) this.#secretsLost++;
    else this.#secrets.push(secret);
  }

  /**
   * The TLS secrets of the handshakes seen, with `keys`: from Go binaries' writeKeyLog
   * and from key log files the plugin follows (`followKeyLog`). Ends when the plugin closes.
   */
  get secrets(): AsyncIterable<TlsSecret> {
    return { [Symbol.asyncIterator]: () => this.#secrets.reader() };
  }

  /**
   * Reads the NSS key log `file` as it grows (created empty, mode 0600, if absent), each
   * line a secret in `secrets`, until the plugin closes. captureCommand points a
   * command's SSLKEYLOGFILE and node's --tls-keylog at one.
   */
  followKeyLog(file: string): void {
    if (this.#closed) throw new ClosedError('TLS plugin');
    this.#followers.push(new KeyLogFollower(file, (secret) => this.#pushSecret(secret)));
  }

  /** Events in the order the calls returned; ends when the plugin closes. */
  [Symbol.asyncIterator](): AsyncIterator<TlsEvent> {
    return this.#queue.reader();
  }

  stats(): TlsStats {
    const s = this.#final ?? this.#native?.stats() ?? { lostRecords: 0, truncatedBytes: 0 };
    return {
      events: this.#events,
      bytes: this.#bytes,
      secrets: this.#secretCount,
      lost: { records: s.lostRecords, truncatedBytes: s.truncatedBytes, execScans: this.#scansDropped, secrets: this.#secretsLost },
    };
  }

  /** Detaches every uprobe, hands over what was captured (iteration then ends). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // The key logs' last lines are read now: the command that wrote them has ended.
    for (const follower of this.#followers.splice(0)) follower.close();
    for (const timer of this.#scans.values()) clearTimeout(timer);
    this.#scans.clear();
    if (this.#native) {
      // The uprobes go on a worker thread (seconds for hundreds); records keep coming
      // meanwhile. A file hooked since goes with detach(): unhooked first, so the flush
      // hands over every call that returned before.
      await this.#native.unhook();
      this.#native.detach();
      this.#native.flush();
      this.#native.close();
      this.#final = this.#native.stats();
      this.#native = undefined;
    }
    // Calls whose chunks did not all arrive end here, marked truncated.
    for (const p of this.#partials.values()) this.#emit(p.record, Buffer.concat(p.parts), true);
    this.#partials.clear();
    this.#closed = true;
    this.#queue.end();
    this.#secrets.end();
  }
}

/** With keys, why a library gives none (undefined: it gives them). */
function noKeysReason(flavor: Flavor, keys: unknown): string | undefined {
  if (flavor === Flavor.GnuTls) return 'GnuTLS secrets are read only from commands tapwire runs (SSLKEYLOGFILE)';
  if (keys) return undefined;
  // The processes on a host run its own architecture's code.
  if (process.arch === 'arm64') {
    return "OpenSSL's key log function could not be told for certain in this build (on arm64 only a libssl that hands it on from ssl_log_secret is decoded; node's, which inlines it, is not): its secrets are read only from commands tapwire runs (SSLKEYLOGFILE, --tls-keylog)";
  }
  return "OpenSSL's key log function (nss_keylog_int, or node's ssl_log_secret) could not be told for certain in this build: no secrets are read rather than wrong ones";
}

function check(options: TlsOptions): void {
  const { pids, targets, includeSelf, bufferSize } = options;
  if (pids !== undefined && (!Array.isArray(pids) || !pids.every((p) => Number.isInteger(p) && p > 0))) {
    throw new InvalidOptionError('tls.pids must be an array of process ids');
  }
  if (targets !== undefined && (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string' && t.length > 0))) {
    throw new InvalidOptionError('tls.targets must be an array of file paths');
  }
  if (includeSelf !== undefined && typeof includeSelf !== 'boolean') throw new InvalidOptionError('tls.includeSelf must be a boolean');
  if (bufferSize !== undefined && (!Number.isInteger(bufferSize) || bufferSize < 65536 || bufferSize > 1024 * MiB)) {
    throw new InvalidOptionError('tls.bufferSize must be an integer from 65536 to 1 GiB');
  }
  if (options.keys !== undefined && typeof options.keys !== 'boolean') throw new InvalidOptionError('tls.keys must be a boolean');
}

/** A TLS plugin to register with cap.use(). Plaintext is captured only once registered. */
export function tlsPlugin(options: TlsOptions = {}): TlsPlugin {
  check(options);
  return new TlsPlugin(options);
}
