/**
 * A streaming pcapng writer: a Section Header, an Interface Description Block for each
 * interface as it first appears, an Enhanced Packet Block per packet (nanosecond
 * timestamps, direction flags, and the owning process where the capture attributes
 * packets), Decryption Secrets Blocks for TLS keys, and Interface Statistics Blocks on
 * close. Each batch becomes one Buffer and one write.
 */
import os from 'node:os';
import type { Writable } from 'node:stream';
import type { Batch } from '../batch';
import { ClosedError } from '../errors';
import { MAX_SNAPLEN } from '../snaplen';
import * as f from './format';
import { Output, type OutputOptions } from './output';
import { encodeProcessOptions } from './process-options';
import { encodeUpperPdu, type UpperPdu } from './upper-pdu';
import type { CaptureFileWriter, DropCounts, InterfaceSource, Select } from './writer';

export interface PcapngWriterOptions extends OutputOptions {
  /** The capture filter, recorded in each interface's if_filter. */
  filter?: string;
  /**
   * Names the packets' interfaces (a Capturer does: this host's for a live capture, the
   * file's own for a replay). Without it, the file's interfaces have no names.
   */
  source?: InterfaceSource;
  /**
   * The link type of the one interface a file without packets describes (default 1,
   * Ethernet): libpcap (tcpdump) cannot open a pcapng file that describes none.
   */
  linkType?: number;
}

interface Interface {
  id: number;
  /** The first and last packet's time on it: its statistics' start and end. */
  firstSec: number;
  firstNsec: number;
  lastSec: number;
  lastNsec: number;
  upperPdu: boolean;
}

const EPB_FIXED = 28; // type, length, interface, timestamp (2), captured and original length
const EPB_TRAILER = 12 + 4; // epb_flags option, opt_endofopt, total length

export class PcapngWriter implements CaptureFileWriter {
  readonly #out: Output;
  readonly #filter: string;
  readonly #source: InterfaceSource | undefined;
  readonly #emptyLinkType: number;
  /** By (index × 2¹⁶ + link type): an interface with another link type is another interface. */
  readonly #interfaces = new Map<number, Interface>();
  readonly #list: Interface[] = [];
  #upperPdu: Interface | undefined;
  #closing: Promise<void> | null = null;

  constructor(target: string | Writable, options: PcapngWriterOptions = {}) {
    this.#out = new Output(target, options);
    this.#filter = options.filter ?? '';
    this.#source = options.source;
    this.#emptyLinkType = options.linkType ?? f.LINKTYPE_ETHERNET;
    this.#out.write(sectionHeader());
  }

  get bytesWritten(): number {
    return this.#out.bytes;
  }

  write(batch: Batch, select?: Select): boolean {
    this.#assertOpen();
    const ids = new Int32Array(batch.length);
    const descriptions: Buffer[] = [];
    const owners = batch.attributionAt(0) === null ? null : this.#ownerOptions(batch);
    let size = 0;
    for (let i = 0; i < batch.length; i++) {
      if (select && !select(i)) {
        ids[i] = -1;
        continue;
      }
      const index = batch.interfaceIndexAt(i);
      const linkType = batch.linkTypeAt(i) ?? f.LINKTYPE_USER0;
      let iface = this.#interfaces.get(index * 0x10000 + linkType);
      if (!iface) {
        iface = this.#addInterface(index * 0x10000 + linkType, false, batch.secondsAt(i), batch.nanosecondsAt(i));
        descriptions.push(this.#describe(index, linkType));
      }
      iface.lastSec = batch.secondsAt(i);
      iface.lastNsec = batch.nanosecondsAt(i);
      ids[i] = iface.id;
      size += EPB_FIXED + f.pad4(batch.capturedLengthAt(i)) + EPB_TRAILER + (owners?.[i]!.length ?? 0);
    }
    const head = descriptions.length ? Buffer.concat(descriptions) : null;
    const out = Buffer.allocUnsafe((head?.length ?? 0) + size);
    let pos = 0;
    if (head) pos += head.copy(out, 0);
    for (let i = 0; i < batch.length; i++) {
      if (ids[i]! < 0) continue;
      const caplen = batch.capturedLengthAt(i);
      const [high, low] = f.nanosecondHalves(batch.secondsAt(i), batch.nanosecondsAt(i));
      const offset = batch.offsetAt(i);
      const extra = owners?.[i];
      pos = writeEpb(out, pos, ids[i]!, high, low, batch.data, offset, caplen, batch.lengthAt(i), batch.directionAt(i) === 'out', extra);
    }
    return this.#out.write(out);
  }

  /** Each packet's process options; runs of one process share one encoding. */
  #ownerOptions(batch: Batch): Buffer[] {
    const out: Buffer[] = [];
    let last: Buffer | undefined;
    let lastKey: [unknown, unknown, unknown] = [undefined, undefined, undefined];
    for (let i = 0; i < batch.length; i++) {
      const process = batch.processAt(i);
      const peerProcess = batch.peerProcessAt(i);
      const attribution = batch.attributionAt(i) ?? 'none';
      if (!last || lastKey[0] !== process || lastKey[1] !== peerProcess || lastKey[2] !== attribution) {
        last = encodeProcessOptions({ process, peerProcess, attribution });
        lastKey = [process, peerProcess, attribution];
      }
      out.push(last);
    }
    return out;
  }

  /**
   * Writes an upper-layer payload (an HTTP message, say) with the addresses it travelled
   * between, in an interface of its own that Wireshark dissects with `pdu.protocol`.
   */
  writeUpperPdu(pdu: UpperPdu): boolean {
    this.#assertOpen();
    const payload = encodeUpperPdu(pdu);
    const ns = pdu.timestampNs;
    const sec = Number(ns / 1_000_000_000n);
    const nsec = Number(ns % 1_000_000_000n);
    let head: Buffer | null = null;
    if (!this.#upperPdu) {
      this.#upperPdu = this.#addInterface(-1, true, sec, nsec);
      head = interfaceDescription(f.LINKTYPE_WIRESHARK_UPPER_PDU, 'upper-pdu', undefined, '');
    }
    this.#upperPdu.lastSec = sec;
    this.#upperPdu.lastNsec = nsec;
    // Wireshark refuses to read a record larger than its packet limit: a longer payload
    // is kept to that many bytes, its full length recorded as the original length.
    const caplen = Math.min(payload.length, MAX_SNAPLEN);
    const out = Buffer.allocUnsafe((head?.length ?? 0) + EPB_FIXED + f.pad4(caplen) + EPB_TRAILER);
    const pos = head ? head.copy(out, 0) : 0;
    const [high, low] = f.nanosecondHalves(sec, nsec);
    writeEpb(out, pos, this.#upperPdu.id, high, low, payload, 0, caplen, payload.length, pdu.direction === 'out');
    return this.#out.write(out);
  }

  /**
   * Writes TLS secrets (NSS key log lines, each ending in a newline) as a Decryption
   * Secrets Block: Wireshark uses them for the packets after it in the file.
   */
  writeSecrets(keyLog: string): boolean {
    this.#assertOpen();
    return this.#out.write(secretsBlock(keyLog));
  }

  drained(): Promise<void> {
    return this.#out.drained();
  }

  /**
   * Writes each interface's statistics and finishes the file. tapwire counts drops per
   * capture, not per interface, so the first interface's isb_ifdrop carries them all.
   */
  close(stats?: { drops: DropCounts }): Promise<void> {
    this.#closing ??= (async () => {
      const now = Date.now();
      const sec = Math.floor(now / 1000);
      const nsec = (now % 1000) * 1_000_000;
      const drops = stats ? stats.drops.kernel + stats.drops.ring + stats.drops.userspace : undefined;
      let dropsWritten = false;
      const blocks = this.#list.map((iface) => {
        const options: [number, Buffer][] = [
          [f.ISB_STARTTIME, f.timestampValue(iface.firstSec, iface.firstNsec)],
          [f.ISB_ENDTIME, f.timestampValue(iface.lastSec, iface.lastNsec)],
        ];
        if (drops !== undefined && !iface.upperPdu && !dropsWritten) {
          options.push([f.ISB_IFDROP, f.u64(drops)]);
          dropsWritten = true;
        }
        const [high, low] = f.nanosecondHalves(sec, nsec);
        const fixed = Buffer.alloc(12);
        fixed.writeUInt32LE(iface.id, 0);
        fixed.writeUInt32LE(high, 4);
        fixed.writeUInt32LE(low, 8);
        return f.encodeBlock(f.ISB, Buffer.concat([fixed, f.encodeOptions(options)]));
      });
      if (this.#list.length === 0) blocks.push(interfaceDescription(this.#emptyLinkType, undefined, undefined, this.#filter));
      await this.#out.finish(Buffer.concat(blocks));
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing) throw new ClosedError('capture file writer');
  }

  #addInterface(key: number, upperPdu: boolean, sec: number, nsec: number): Interface {
    const iface: Interface = { id: this.#list.length, firstSec: sec, firstNsec: nsec, lastSec: sec, lastNsec: nsec, upperPdu };
    this.#list.push(iface);
    if (!upperPdu) this.#interfaces.set(key, iface);
    return iface;
  }

  #describe(index: number, linkType: number): Buffer {
    return interfaceDescription(linkType, this.#source?.interfaceName(index), this.#source?.interfaceDescription?.(index), this.#filter);
  }
}

function sectionHeader(): Buffer {
  const fixed = Buffer.alloc(16);
  fixed.writeUInt32LE(f.BYTE_ORDER_MAGIC, 0);
  fixed.writeUInt16LE(1, 4); // version 1.0
  fixed.writeUInt16LE(0, 6);
  fixed.writeBigInt64LE(-1n, 8); // section length not known in advance
  const options = f.encodeOptions([
    [f.SHB_OS, Buffer.from(`${os.type()} ${os.release()}`)],
    [f.SHB_USERAPPL, Buffer.from('tapwire')],
  ]);
  return f.encodeBlock(f.SHB, Buffer.concat([fixed, options]));
}

function secretsBlock(keyLog: string): Buffer {
  const data = Buffer.from(keyLog, 'latin1');
  const body = Buffer.alloc(8 + f.pad4(data.length));
  body.writeUInt32LE(f.SECRETS_TLS_KEY_LOG, 0);
  body.writeUInt32LE(data.length, 4);
  data.copy(body, 8);
  return f.encodeBlock(f.DSB, body);
}

function interfaceDescription(linkType: number, name: string | undefined, description: string | undefined, filter: string): Buffer {
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16LE(linkType, 0);
  fixed.writeUInt32LE(0, 4); // no snapshot length limit recorded
  const options: [number, Buffer][] = [];
  if (name) options.push([f.IF_NAME, Buffer.from(name)]);
  if (description) options.push([f.IF_DESCRIPTION, Buffer.from(description)]);
  options.push([f.IF_TSRESOL, Buffer.from([f.TSRESOL_NS])]);
  if (filter) options.push([f.IF_FILTER, Buffer.concat([Buffer.from([f.FILTER_LIBPCAP]), Buffer.from(filter)])]);
  return f.encodeBlock(f.IDB, Buffer.concat([fixed, f.encodeOptions(options)]));
}

function writeEpb(
  out: Buffer,
  pos: number,
  interfaceId: number,
  high: number,
  low: number,
  data: Buffer,
  offset: number,
  caplen: number,
  wireLength: number,
  outbound: boolean,
  options?: Buffer,
): number {
  const padded = f.pad4(caplen);
  const total = EPB_FIXED + padded + EPB_TRAILER + (options?.length ?? 0);
  out.writeUInt32LE(f.EPB, pos);
  out.writeUInt32LE(total, pos + 4);
  out.writeUInt32LE(interfaceId, pos + 8);
  out.writeUInt32LE(high, pos + 12);
  out.writeUInt32LE(low, pos + 16);
  out.writeUInt32LE(caplen, pos + 20);
  out.writeUInt32LE(wireLength, pos + 24);
  data.copy(out, pos + EPB_FIXED, offset, offset + caplen);
  let p = pos + EPB_FIXED + caplen;
  out.fill(0, p, pos + EPB_FIXED + padded);
  p = pos + EPB_FIXED + padded;
  if (options) p += options.copy(out, p);
  out.writeUInt16LE(f.EPB_FLAGS, p);
  out.writeUInt16LE(4, p + 2);
  out.writeUInt32LE(outbound ? f.EPB_OUTBOUND : f.EPB_INBOUND, p + 4);
  out.writeUInt32LE(0, p + 8); // opt_endofopt
  out.writeUInt32LE(total, p + 12);
  return pos + total;
}
