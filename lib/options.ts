/** openCapturer()'s options: defaults, limits, and a clear error for every bad value. */
import { inspect } from 'node:util';
import { didYouMean } from './did-you-mean';
import { InvalidOptionError } from './errors';
import { namespacePath, type NamespaceSpec } from './netns';
import { MAX_SNAPLEN } from './snaplen';
import { resolveCgroup } from './cgroup';
import { assertBackendOption, type AttachMode, type BackendOption } from './selection';
import { tlsMode, type TlsMode, type TlsOption, type TlsOptions } from './tls';

export interface CaptureOptions {
  /**
   * A pcap or pcapng file to replay instead of capturing live: no probe, no backend,
   * no privileges. Only `filter`, `snaplen`, `highWaterMark` and `signal` apply.
   */
  file?: string;
  /** Interfaces to capture on; default (or 'any'): every interface. */
  interfaces?: string | string[];
  /**
   * Capture inside another network namespace: a path (`/run/netns/NAME`,
   * `/proc/PID/ns/net`), a name under /run/netns, or a pid. Interface names are that
   * namespace's. Default: this process's namespace.
   */
  netns?: NamespaceSpec;
  /**
   * eBPF backend: capture only the packets of sockets owned by processes in this cgroup
   * v2 (and its descendants), on every interface: an absolute path, or one relative to
   * the cgroup v2 mount. Packets start at the IP header (link type RAW).
   */
  cgroup?: string;
  /** pcap-filter(7) expression, applied in the kernel before any copy. */
  filter?: string;
  /** Bytes kept of each packet (1–262144, default 262144). */
  snaplen?: number;
  backend?: BackendOption;
  /** eBPF backend: hook with tcx links or a packet-socket filter (default 'auto': the best the host allows). */
  attach?: 'auto' | AttachMode;
  tls?: TlsOption;
  /**
   * eBPF backend (tcx, or a cgroup capture): tag each packet with the process that owns
   * its socket (`packet.process`, `packet.attribution`). Default false. Where it cannot
   * run the capture does not open: an `ERR_ATTRIBUTION_UNAVAILABLE` error says why.
   */
  attribution?: boolean;
  /** Put the named interfaces into promiscuous mode while capturing (default false). */
  promiscuous?: boolean;
  /** Kernel ring size per capture socket, bytes (default 16 MiB). */
  bufferSize?: number;
  /** Longest a captured packet waits in a partly filled ring block, ms (default 10). */
  batchTimeout?: number;
  /** Bytes of undelivered batches held in JS before capture pauses and the kernel ring takes over (default 64 MiB). */
  highWaterMark?: number;
  /**
   * Raw-socket backend: each batch is the kernel ring's own block, not a copy, lent until
   * the consumer takes the next batch (or the 'batch' handler returns, or it calls
   * `batch.release()`); reading it after that is ERR_RELEASED, and `batch.copy()` keeps
   * one. The eBPF backend's batches stay copies (`cap.selection.zeroCopy` says why). Default false.
   */
  zeroCopy?: boolean;
  /** Aborting it closes the capturer. */
  signal?: AbortSignal;
  /**
   * false: capture TLS plaintext only (with `tls`): no packet is hooked or queued; the
   * backend is chosen as for any capture. Default true.
   */
  packets?: boolean;
}

export interface ResolvedOptions {
  /** null: every interface. */
  interfaces: string[] | null;
  /** The namespace's path; null: this process's namespace. */
  netns: string | null;
  /** The cgroup v2 directory; null: not restricted to one. */
  cgroup: string | null;
  filter: string;
  snaplen: number;
  backend: BackendOption;
  attach: 'auto' | AttachMode;
  tls: TlsMode;
  /** What tlsPlugin() gets when TLS capture is on. */
  tlsOptions: TlsOptions;
  attribution: boolean;
  promiscuous: boolean;
  bufferSize: number;
  batchTimeout: number;
  highWaterMark: number;
  zeroCopy: boolean;
  signal: AbortSignal | undefined;
  packets: boolean;
}

/** What openCapturer({ file }) needs. */
export interface ReplayOptions extends Pick<ResolvedOptions, 'filter' | 'snaplen' | 'highWaterMark' | 'signal'> {
  file: string;
}

const MiB = 1024 * 1024;

/**
 * Every option openCapturer() takes, and what it applies to: a live capture, a replayed
 * file, or both. Validation, "did you mean" and what a replay refuses all come from
 * this one list; a CaptureOptions field missing here does not compile.
 */
const OPTIONS: Record<keyof CaptureOptions, 'live' | 'file' | 'both'> = {
  file: 'file',
  interfaces: 'live',
  netns: 'live',
  cgroup: 'live',
  filter: 'both',
  snaplen: 'both',
  backend: 'live',
  attach: 'live',
  tls: 'live',
  attribution: 'live',
  promiscuous: 'live',
  bufferSize: 'live',
  batchTimeout: 'live',
  highWaterMark: 'both',
  zeroCopy: 'live',
  signal: 'both',
  packets: 'live',
};
const NAMES = Object.keys(OPTIONS) as (keyof CaptureOptions)[];
const LIVE_ONLY = NAMES.filter((name): name is Exclude<keyof CaptureOptions, 'file'> => OPTIONS[name] === 'live');
const REPLAYED = NAMES.filter((name) => OPTIONS[name] === 'both');

function isOption(key: string): key is keyof CaptureOptions {
  return Object.hasOwn(OPTIONS, key);
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be an integer from ${min} to ${max}; got ${inspect(value)}`);
  }
  return value;
}

function interfaceList(value: unknown): string[] | null {
  if (value === undefined) return null;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((n) => typeof n === 'string' && n.length > 0)) {
    throw new InvalidOptionError(
      `interfaces must be a non-empty interface name or array of them (omit it to capture on every interface); got ${JSON.stringify(value)}`,
    );
  }
  return list.includes('any') ? null : [...new Set(list as string[])];
}

/** The TLS plugin's options; a cgroup it is confined to must exist whether TLS is 'auto' or 'required'. */
function tlsOptions(tls: TlsOption | undefined): TlsOptions {
  if (typeof tls !== 'object' || tls === null) return {};
  return tls.cgroup === undefined ? tls : { ...tls, cgroup: resolveCgroup(tls.cgroup) };
}

/** The replay's options when `file` is given; null for a live capture. */
export function resolveReplayOptions(options: CaptureOptions = {}): ReplayOptions | null {
  if (typeof options !== 'object' || options === null || options.file === undefined) return null;
  const { file, ...rest } = options;
  if (typeof file !== 'string' || file === '') {
    throw new InvalidOptionError(`file must be the path of a pcap or pcapng file; got ${JSON.stringify(file)}`);
  }
  const live = LIVE_ONLY.filter((key) => rest[key] !== undefined);
  if (live.length > 0) {
    throw new InvalidOptionError(
      `${live.join(', ')} cannot be used with file: a replay has no interfaces, backend or kernel ` +
        `(only ${REPLAYED.slice(0, -1).join(', ')} and ${REPLAYED.at(-1)} apply)`,
    );
  }
  const { filter, snaplen, highWaterMark, signal } = resolveOptions(rest);
  return { file, filter, snaplen, highWaterMark, signal };
}

export function resolveOptions(options: CaptureOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('openCapturer() takes an options object');
  }
  for (const key of Object.keys(options)) {
    if (isOption(key)) continue;
    const meant = didYouMean(key, NAMES);
    throw new InvalidOptionError(`unknown option ${JSON.stringify(key)}${meant ? `: did you mean ${JSON.stringify(meant)}?` : ''}`);
  }
  const backend = options.backend ?? 'auto';
  assertBackendOption(backend);
  if (options.filter !== undefined && typeof options.filter !== 'string') {
    throw new InvalidOptionError(`filter must be a pcap-filter(7) string; got ${typeof options.filter}`);
  }
  if (options.promiscuous !== undefined && typeof options.promiscuous !== 'boolean') {
    throw new InvalidOptionError('promiscuous must be a boolean');
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidOptionError('signal must be an AbortSignal');
  }
  const attach = options.attach ?? 'auto';
  if (!['auto', 'tcx', 'socket'].includes(attach)) {
    throw new InvalidOptionError(`attach must be 'auto', 'tcx' or 'socket'; got ${JSON.stringify(attach)}`);
  }
  if (attach !== 'auto' && backend !== 'ebpf') {
    throw new InvalidOptionError(`attach: '${attach}' applies to the eBPF backend only: set backend: 'ebpf' with it`);
  }
  const interfaces = interfaceList(options.interfaces);
  const promiscuous = options.promiscuous ?? false;
  if (promiscuous && interfaces === null) {
    throw new InvalidOptionError('promiscuous needs named interfaces: it cannot be set on every interface at once');
  }
  if (options.attribution !== undefined && typeof options.attribution !== 'boolean') {
    throw new InvalidOptionError('attribution must be a boolean');
  }
  const attribution = options.attribution ?? false;
  if (attribution && backend === 'raw-socket') {
    throw new InvalidOptionError('attribution needs the eBPF backend: a raw socket sees packets, not the sockets they belong to');
  }
  if (attribution && attach === 'socket') {
    throw new InvalidOptionError("attribution needs attach: 'tcx' (or a cgroup capture): a packet socket's filter cannot see sockets");
  }
  if (options.packets !== undefined && typeof options.packets !== 'boolean') throw new InvalidOptionError('packets must be a boolean');
  if (options.zeroCopy !== undefined && typeof options.zeroCopy !== 'boolean') throw new InvalidOptionError('zeroCopy must be a boolean');
  const packets = options.packets ?? true;
  if (!packets) {
    const clash = (['filter', 'attribution', 'promiscuous'] as const).filter((key) => options[key] !== undefined);
    if (clash.length > 0) throw new InvalidOptionError(`packets: false captures no packets: ${clash.join(', ')} cannot be given with it`);
    if (tlsMode(options.tls) === 'off') throw new InvalidOptionError('packets: false captures TLS plaintext only: it needs tls');
  }
  const cgroup = options.cgroup === undefined ? null : resolveCgroup(options.cgroup);
  if (cgroup !== null) {
    // A cgroup's hooks see its sockets' packets on every interface of every namespace.
    const clash = (['interfaces', 'netns'] as const).filter((key) => options[key] !== undefined);
    if (clash.length > 0)
      throw new InvalidOptionError(`cgroup captures on every interface: it cannot be combined with ${clash.join(' or ')}`);
    if (backend === 'raw-socket')
      throw new InvalidOptionError("cgroup needs the eBPF backend: it cannot be combined with backend: 'raw-socket'");
    if (attach !== 'auto')
      throw new InvalidOptionError(`cgroup attaches to the cgroup itself: it cannot be combined with attach: '${attach}'`);
  }
  return {
    interfaces,
    netns: options.netns === undefined ? null : namespacePath(options.netns),
    cgroup,
    filter: (options.filter ?? '').trim(),
    snaplen: integer('snaplen', options.snaplen, MAX_SNAPLEN, 1, MAX_SNAPLEN),
    backend,
    attach,
    tls: tlsMode(options.tls),
    tlsOptions: tlsOptions(options.tls),
    attribution,
    promiscuous,
    bufferSize: integer('bufferSize', options.bufferSize, 16 * MiB, 128 * 1024, 1024 * MiB),
    batchTimeout: integer('batchTimeout', options.batchTimeout, 10, 1, 10_000),
    highWaterMark: integer('highWaterMark', options.highWaterMark, 64 * MiB, 0, Number.MAX_SAFE_INTEGER),
    zeroCopy: options.zeroCopy ?? false,
    signal: options.signal,
    packets,
  };
}
