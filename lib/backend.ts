/** What a capture backend gives the Capturer; the Capturer knows no implementation. */
import type { Batch } from './batch';
import type { AttachMode, BackendName } from './selection';

export interface BackendStats {
  /** Frames the kernel could not hand to the capture socket (raw-socket: ring full). */
  kernelDrops: number;
  /** Records that did not fit the BPF ring buffer (eBPF backend). */
  ringDrops: number;
  /** Frames lost in user space (memory for a batch could not be had). */
  userspaceDrops: number;
  /** Frames the filter rejected, where the backend can count them; null where it cannot. */
  filtered: number | null;
  /** Per interface, where the backend counts so (eBPF): delivered packets and their bytes on the wire. */
  interfaces?: { index: number; packets: number; bytes: number; attached: boolean }[];
}

/**
 * An interface that appeared or went during an every-interface capture. `attached`:
 * whether its packets are captured now (an added one), and if not, `reason`.
 */
export interface InterfaceEvent {
  change: 'added' | 'removed';
  name: string | undefined;
  index: number;
  attached: boolean;
  reason?: string;
}

export type InterfaceCallback = (event: InterfaceEvent) => void;

/** A live backend, or 'file' for a replayed capture file (never chosen by selection). */
export type SourceName = BackendName | 'file';

/** Where the eBPF backend's programs run: an attach mode, or a cgroup (the `cgroup` option). */
export type HookMode = AttachMode | 'cgroup';

export type BatchSink = (batch: Batch) => void;

/** Called by a source that runs out by itself (a file), with the error that stopped it, if any. */
export type EndCallback = (error?: Error) => void;

/**
 * What the eBPF backend offers plugins: they run beside its capture and end with it.
 * A backend without a host takes no plugins.
 */
export interface PluginHost {
  readonly backend: 'ebpf';
  /** The capture's batchTimeout, ms: plugins deliver on the same rhythm. */
  readonly batchTimeout: number;
}

export interface Plugin {
  readonly name: string;
  /** Starts the plugin beside `host`'s capture; throws a TapwireError if it cannot. */
  register(host: PluginHost): void;
  close(): Promise<void>;
}

export interface Backend {
  readonly name: SourceName;
  /** eBPF backend: how its programs are hooked in ('cgroup': at a cgroup's inet hooks). */
  readonly attach?: HookMode;
  /** Whether its packets carry their owning process (`attribution: true` where it can run). */
  readonly attributes?: boolean;
  /** With attribution: how the sockets open when the capture started were named, in a sentence. */
  readonly existingSockets?: string;
  /** Whether its batches are lent from the kernel's ring (`zeroCopy` where the backend can). */
  readonly lends?: boolean;
  /** Present on backends that take plugins (the eBPF backend). */
  readonly pluginHost?: PluginHost;
  /** Starts delivery: every batch goes to `sink`, in capture order per socket; interface changes to `onInterface`. */
  start(sink: BatchSink, end: EndCallback, onInterface?: InterfaceCallback): void;
  /** Stops taking batches from the kernel; its ring keeps filling and counts what it drops. */
  pause(): void;
  resume(): void;
  /** Takes no new packets, delivers what was captured up to now, then frees all kernel state. */
  close(): Promise<void>;
  stats(): BackendStats;
  /** The name of interface `index`: this host's for a live backend, the file's own for a replay. */
  interfaceName(index: number): string | undefined;
  /** A replayed pcapng file: the TLS secrets of its Decryption Secrets Blocks read so far, as key log lines. */
  keyLog?(): string;
  /** What capture files say of the interface beside its name (the network namespace it is in). */
  interfaceDescription?(index: number): string | undefined;
}
