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
}

export type BatchSink = (batch: Batch) => void;

export interface Backend {
  readonly name: BackendName;
  /** eBPF backend: how its programs are hooked in. */
  readonly attach?: AttachMode;
  /** Starts delivery: every batch goes to `sink`, in capture order per socket. */
  start(sink: BatchSink): void;
  /** Stops taking batches from the kernel; its ring keeps filling and counts what it drops. */
  pause(): void;
  resume(): void;
  /** Takes no new packets, delivers what was captured up to now, then frees all kernel state. */
  close(): Promise<void>;
  stats(): BackendStats;
}
