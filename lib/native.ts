/** The one place the compiled addon is loaded; everything native goes through here. */
import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';
import { assertAddon } from './platform';

export interface NativeFeature {
  ok: boolean;
  errno: number;
}

export interface NativeProbe {
  kernelRelease: string;
  capabilities: Record<string, boolean>;
  bpf: NativeFeature;
  tcProgram: NativeFeature;
  ringBuffer: NativeFeature;
  tcx: NativeFeature;
  packetSocket: NativeFeature;
  uprobe: NativeFeature;
  btf: NativeFeature;
  /** ok: BPF maps are not held to RLIMIT_MEMLOCK; limit: its soft value, -1 when unlimited. */
  memlock: NativeFeature & { limit: number };
}

/** Whether the kernel loaded a set of programs, and if not, what it said. */
export interface ProgramCheck extends NativeFeature {
  message?: string;
  program?: string;
  log?: string;
}

export interface PacketRingOptions {
  ifindex: number;
  filter: Buffer;
  blockSize: number;
  blockCount: number;
  blockTimeoutMs: number;
  /** The filter's cut, applied again to a frame whose VLAN tag is put back. */
  snaplen: number;
  promiscuous: boolean;
  /** Lend the ring's blocks (views(), release()) rather than copy them: onBatch gets a block's number. */
  zeroCopy: boolean;
}

/** `ownersAt`: byte offset of the packets' owners in the buffer (attributing captures), else 0. */
export type BatchCallback = (buffer: ArrayBuffer, count: number, wireBytes: number, ownersAt: number) => void;

/** A lent block (PacketRing with zeroCopy): its number, its packets and their bytes on the wire. */
export type LentBatchCallback = (block: number, count: number, wireBytes: number) => void;

/**
 * The lifecycle every kernel source shares (native/common/kernel_source.h): resume()
 * and pause() start and stop handing batches over (a paused ring buffers, and counts
 * what it cannot hold); after detach() nothing new enters the ring; flush() hands over
 * what it holds now; close() reads the counters a last time and frees every kernel
 * resource. A source is closed with detach(), flush(), close(); close() alone frees
 * everything too, handing nothing over.
 */
export interface KernelSource<Stats> {
  resume(): void;
  pause(): void;
  flush(): void;
  detach(): void;
  /** The source's counters. */
  stats(): Stats;
  close(): void;
}

export interface PacketRing extends KernelSource<{ kernelDrops: number; userspaceDrops: number }> {
  /** zeroCopy: the ring, the packets' records (recordsPerBlock per block), made once at open and detached at close. */
  views(): [ring: ArrayBuffer, records: ArrayBuffer, recordsPerBlock: number];
  /** zeroCopy: the lent block goes back to the kernel. */
  release(block: number): void;
  /** The packets in the block the kernel fills: no flush hands them over until its timer retires it. */
  unretired(): number;
}

export interface EbpfTarget {
  ifindex: number;
  hardwareType: number;
  filter: Buffer;
  /** Capture what this host sends on it. */
  outgoing: boolean;
}

export interface EbpfCaptureOptions {
  attach: 'tcx' | 'socket' | 'cgroup';
  /** Pass over a target deleted before it could be hooked (every-interface captures). */
  skipGone?: boolean;
  /** attach 'cgroup': the cgroup v2 directory, and the filter compiled for raw IP. */
  cgroup?: { path: string; filter: Buffer };
  ringSize: number;
  /** Bytes in the ring before the kernel wakes the reader (a timer hands over the rest). */
  wakeupBytes: number;
  /** Most ring bytes handed over as one batch. */
  batchBytes: number;
  /** Drains every this many ms when no wake-up came (lib/drain-interval.ts). */
  drainIntervalMs: number;
  /** The filters' cut, applied again to a frame whose VLAN tag is put back. */
  snaplen: number;
  promiscuous: boolean;
  targets: EbpfTarget[];
  /** Records carry their packet's owner, named by socket hooks linked at this cgroup v2 root. */
  attribution?: { cgroupRoot: string };
}

export interface EbpfCapture extends KernelSource<{
  filtered: number;
  ringDrops: number;
  userspaceDrops: number;
  interfaces: { index: number; packets: number; bytes: number; attached: boolean }[];
}> {
  /** Hooks an interface that appeared while capturing. */
  attachInterface(target: EbpfTarget): void;
  /** Unhooks an interface that went away (its records already in the ring stay). */
  releaseInterface(ifindex: number): void;
  /** With attribution: how the sockets open at the start were named (from /proc: how many, and how many not). */
  existingSockets(): { by: 'iterator' } | { by: 'proc'; named: number; unnamed: number } | null;
}

export interface TlsCaptureOptions {
  ringSize: number;
  /** As EbpfCaptureOptions'. */
  wakeupBytes: number;
  batchBytes: number;
  selfTgid: number;
  pids: number[] | null;
  /** Only calls of tasks under this cgroup v2 directory (and its descendants); null: any. */
  cgroup: string | null;
  /** Drains every this many ms when no wake-up came (lib/drain-interval.ts). */
  drainIntervalMs: number;
}

export interface TlsCapture extends KernelSource<{ lostRecords: number; truncatedBytes: number }> {
  /**
   * The functions hooked in the file. Where to hook comes with a Go binary
   * (lib/plugins/tls/go.ts) and, found, OpenSSL's internal functions (lib/plugins/tls/openssl.ts).
   */
  attach(
    path: string,
    index: number,
    flavor: number,
    where?:
      | { pollDescOffset: number; hooks: { name: string; offset: number; program: string }[] }
      | { read?: number; write?: number; keylog?: number; logSecret?: number; randomOffset?: number },
  ): string[];
  /** Removes the uprobes made so far on a worker thread (seconds for hundreds of them); detach() still ends the rest. */
  unhook(): Promise<void>;
}

export interface LinkWatch {
  /** Changes since the watch's list, as [kind, ifindex, ...] (kind 0 gone, 1 added); each reported once, here or to onChange. */
  rescan(): number[];
  close(): void;
}

export interface NativeBinding {
  probe(): NativeProbe;
  /** Loads the eBPF backend's capture and filter programs for one attach mode, then frees them. */
  probeCapturePrograms(attach: 'tcx' | 'socket' | 'cgroup'): ProgramCheck;
  /** Loads the attribution programs (native/ebpf/bpf/owners.bpf.c) and that mode's capture programs reading them, then frees them. */
  probeAttribution(
    attach: 'tcx' | 'cgroup',
  ): ProgramCheck & { iterator?: boolean; iteratorMessage?: string; iteratorLog?: string; pidfdGetfd?: boolean };
  /**
   * Compiles on the thread pool; rejects with nativeCode EFILTER and libpcap's message. `linkType`
   * is a DLT_; with `swapped`, the program is for a capture file instead: `linkType` is then the
   * LINKTYPE_ it records, and `swapped` whether its byte order is not this host's.
   */
  compileFilter(expression: string, linkType: number, snaplen: number, swapped?: boolean): Promise<Buffer>;
  /**
   * Bytes of the packet the program keeps; 0 when it rejects the packet. `vlanTci`: the
   * 802.1Q tag the kernel holds in the frame's metadata, which a live link's program tests.
   */
  matchFilter(program: Buffer, packet: Buffer, wireLength: number, vlanTci?: number): number;
  /** A file's record as libpcap reads it (`data` rewritten in place); returns its original length. */
  libpcapRecord(linkType: number, swapped: boolean, data: Buffer, wireLength: number): number;
  /** In the calling thread's network namespace, as are interfaces() and every socket the addon makes. */
  interfaceInfo(name: string): { index: number; hardwareType: number; up: boolean } | null;
  interfaces(): { name: string; index: number; hardwareType: number; up: boolean }[];
  /** Runs `fn` with this thread inside the network namespace `fd` refers to; back in its own after. */
  inNetns<T>(fd: number, fn: () => T): T;
  /** The translated program's verdicts from BPF_PROG_TEST_RUN; null where the kernel builds no test skb. */
  filterVerdicts(program: Buffer, packets: Buffer[], form: 'tc-direct' | 'tc' | 'socket'): (number | null)[];
  PacketRing: new (options: PacketRingOptions, onBatch: BatchCallback | LentBatchCallback) => PacketRing;
  /**
   * Calls onChange with a buffer of u32 (kind, ifindex) pairs: kind 0 when a watched
   * interface goes away, 1 (when following) when one appears.
   */
  LinkWatch: new (ifindexes: number[], onChange: BatchCallback, follow: boolean) => LinkWatch;
  EbpfCapture: new (options: EbpfCaptureOptions, onBatch: BatchCallback) => EbpfCapture;
  TlsCapture: new (options: TlsCaptureOptions, onBatch: BatchCallback) => TlsCapture;
}

let binding: NativeBinding | undefined;
// Where no addon fits this platform (musl, another architecture), require('tapwire')
// fails with one sentence saying what to do.
assertAddon(path.join(__dirname, '..'));

export function native(): NativeBinding {
  binding ??= nodeGypBuild(path.join(__dirname, '..')) as NativeBinding;
  return binding;
}
