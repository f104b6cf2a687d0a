/** What both capture file writers (pcapng, classic pcap) offer, and what they are given. */
import type { Batch } from '../batch';

/** Picks the packets of a batch to write, by index; absent: all of them. */
export type Select = (index: number) => boolean;

/** Anything that names interfaces by index, such as a Capturer. */
export interface InterfaceSource {
  interfaceName(index: number): string | undefined;
  interfaceDescription?(index: number): string | undefined;
}

/** The losses a capture counted (`cap.stats().drops`). */
export interface DropCounts {
  kernel: number;
  ring: number;
  userspace: number;
}

export interface CaptureFileWriter {
  /** Bytes written so far (headers included). */
  readonly bytesWritten: number;
  /** Appends a batch (or the packets `select` picks) in one write; false: wait for `drained()`. */
  write(batch: Batch, select?: Select): boolean;
  /** Resolves when the destination has room again; rejects with a write error. */
  drained(): Promise<void>;
  /** Finishes the file (recording the capture's drops, where the format can) and closes it. Idempotent. */
  close(stats?: { drops: DropCounts }): Promise<void>;
}
