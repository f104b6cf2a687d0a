/**
 * The owners the eBPF capture programs wrote beside each packet (OWNER_RECORD in
 * lib/layout.ts: its socket's owner here, then on loopback the other end's; each
 * cgroup id, pid, method, command), read as the packets are.
 */
import { OWNER_METHOD, OWNER_RECORD } from '../layout';
import type { ProcessTable } from './processes';
import type { Attribution, Owners, PacketProcess } from './types';

// The record's u32 words: the owners are 8-byte aligned in the batch.
const WORDS = OWNER_RECORD.BYTES / 4;
const PEER = OWNER_RECORD.PEER / 4;
const CGROUP_ID = OWNER_RECORD.CGROUP_ID / 4;
const TGID = OWNER_RECORD.TGID / 4;
const METHOD = OWNER_RECORD.METHOD / 4;
const METHODS: Record<number, Attribution> = {
  [OWNER_METHOD.NONE]: 'none',
  [OWNER_METHOD.SOCKET]: 'socket',
  [OWNER_METHOD.TUPLE]: 'tuple',
  [OWNER_METHOD.CGROUP]: 'cgroup',
};

export class RecordedOwners implements Owners {
  readonly #words: Uint32Array;
  readonly #bytes: Buffer;
  readonly #table: ProcessTable;

  constructor(buffer: ArrayBuffer, offset: number, count: number, table: ProcessTable) {
    this.#words = new Uint32Array(buffer, offset, count * WORDS);
    this.#bytes = Buffer.from(buffer, offset, count * OWNER_RECORD.BYTES);
    this.#table = table;
  }

  attributionAt(i: number): Attribution {
    return METHODS[this.#words[i * WORDS + METHOD]!] ?? 'none';
  }

  processAt(i: number): PacketProcess | null {
    return this.#owner(i * WORDS);
  }

  peerAt(i: number): PacketProcess | null {
    return this.#owner(i * WORDS + PEER);
  }

  /** The owner whose record starts at word `w`. */
  #owner(w: number): PacketProcess | null {
    if (this.#words[w + METHOD]! === OWNER_METHOD.NONE) return null;
    const cgroupId = this.#words[w + CGROUP_ID]! + this.#words[w + CGROUP_ID + 1]! * 2 ** 32;
    const start = w * 4 + OWNER_RECORD.COMM;
    const limit = start + OWNER_RECORD.COMM_BYTES;
    const end = this.#bytes.indexOf(0, start);
    const comm = this.#bytes.toString('utf8', start, end < 0 || end > limit ? limit : end);
    return this.#table.lookup(this.#words[w + TGID]!, comm, cgroupId);
  }
}
