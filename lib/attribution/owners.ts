/**
 * The owners the eBPF capture programs wrote beside each packet (native/ebpf/bpf/owner.h,
 * 64 bytes a packet: its socket's owner here, then on loopback the other end's; each
 * cgroup id, pid, method, command), read as the packets are.
 */
import type { Owners } from '../batch';
import type { Attribution, PacketProcess, ProcessTable } from './processes';

const WORDS = 16;
const PEER = 8;
const METHODS: readonly Attribution[] = ['none', 'socket', 'tuple', 'cgroup'];

export class RecordedOwners implements Owners {
  readonly #words: Uint32Array;
  readonly #bytes: Buffer;
  readonly #table: ProcessTable;

  constructor(buffer: ArrayBuffer, offset: number, count: number, table: ProcessTable) {
    this.#words = new Uint32Array(buffer, offset, count * WORDS);
    this.#bytes = Buffer.from(buffer, offset, count * WORDS * 4);
    this.#table = table;
  }

  attributionAt(i: number): Attribution {
    return METHODS[this.#words[i * WORDS + 3]!] ?? 'none';
  }

  processAt(i: number): PacketProcess | null {
    return this.#owner(i * WORDS);
  }

  peerAt(i: number): PacketProcess | null {
    return this.#owner(i * WORDS + PEER);
  }

  #owner(w: number): PacketProcess | null {
    const method = this.#words[w + 3]!;
    if (method === 0) return null;
    const cgroupId = this.#words[w]! + this.#words[w + 1]! * 2 ** 32;
    const start = (w + 4) * 4;
    const end = this.#bytes.indexOf(0, start);
    const comm = this.#bytes.toString('utf8', start, end < 0 || end > start + 16 ? start + 16 : end);
    return this.#table.lookup(this.#words[w + 2]!, comm, cgroupId);
  }
}
