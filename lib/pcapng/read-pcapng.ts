/**
 * pcapng: Section Header, Interface Description, Enhanced, Simple and (obsolete)
 * Packet, and Interface Statistics blocks are read; every other block is skipped.
 * Each section has its own byte order and interfaces; interfaces are numbered across
 * sections. Records are read as libpcap reads them (sf-pcapng.c), except that
 * interfaces of different link types and snapshot lengths, and sections of different
 * byte orders, are read rather than refused.
 */
import * as f from './format';
import { decodeComments, decodeCustom, type RecordedProcess } from './process-options';
import { damaged, Fields, snapshotLength, unsupported, type CaptureFileParser, type FileInterface, type OnRecord } from './reader';

interface Clock {
  /** Timestamp units per second (if_tsresol), and nanoseconds per unit where that is whole. */
  unitsPerSecond: bigint;
  nsPerUnit: number;
  /** if_tsoffset, seconds. */
  offset: number;
}

interface SectionInterface extends FileInterface {
  clock: Clock;
  /** The most bytes of a packet a record may hold (libpcap's snapshot). */
  snaplen: number;
}

const NS = 1_000_000_000;

/** Seconds and nanoseconds of a timestamp (high, low) counted in `clock`'s units. */
function timeOf(high: number, low: number, clock: Clock): [number, number] {
  if (clock.nsPerUnit !== 0) {
    // Long division in 16-bit steps: exact in doubles, no BigInt per packet.
    const d = Number(clock.unitsPerSecond);
    const qHigh = Math.floor(high / d);
    const x = (high - qHigh * d) * 65536 + (low >>> 16);
    const q1 = Math.floor(x / d);
    const y = (x - q1 * d) * 65536 + (low & 0xffff);
    const q2 = Math.floor(y / d);
    return [qHigh * 2 ** 32 + q1 * 65536 + q2 + clock.offset, (y - q2 * d) * clock.nsPerUnit];
  }
  const t = (BigInt(high) << 32n) | BigInt(low);
  return [Number(t / clock.unitsPerSecond) + clock.offset, Number(((t % clock.unitsPerSecond) * BigInt(NS)) / clock.unitsPerSecond)];
}

function clockOf(tsresol: number, offset: number): Clock {
  const exponent = BigInt(tsresol & 0x7f);
  const unitsPerSecond = tsresol & 0x80 ? 2n ** exponent : 10n ** exponent;
  const nsPerUnit = unitsPerSecond <= BigInt(NS) && BigInt(NS) % unitsPerSecond === 0n ? Number(BigInt(NS) / unitsPerSecond) : 0;
  return { unitsPerSecond, nsPerUnit, offset };
}

/** Calls `each(code, start, length)` for every option from `pos` to `end`. */
function options(r: Fields, pos: number, end: number, each: (code: number, at: number, length: number) => void): void {
  while (pos + 4 <= end) {
    const code = r.u16(pos);
    const length = r.u16(pos + 2);
    if (code === f.OPT_ENDOFOPT || pos + 4 + length > end) return;
    each(code, pos + 4, length);
    pos += 4 + f.pad4(length);
  }
}

export class PcapngParser implements CaptureFileParser {
  readonly format = 'pcapng';
  readonly interfaces: SectionInterface[] = [];
  readonly secrets: string[] = [];
  readonly #path: string;
  #little = true;
  /** Where this section's interface 0 is in `interfaces`. */
  #sectionBase = 0;
  #sections = 0;

  constructor(path: string) {
    this.#path = path;
  }

  parse(buf: Buffer, offset: number, onRecord: OnRecord): number {
    let pos = 0;
    while (pos + 12 <= buf.length) {
      const type = buf.readUInt32LE(pos);
      if (type === f.SHB) this.#byteOrder(buf, pos, offset);
      const r = new Fields(buf, this.#little);
      const length = r.u32(pos + 4);
      if (length < 12 || length % 4 !== 0 || length > f.MAX_BLOCK_BYTES) {
        throw damaged(this.#path, offset + pos, `a block claims a length of ${length} bytes`);
      }
      if (pos + length > buf.length) break;
      if (r.u32(pos + length - 4) !== length) {
        throw damaged(this.#path, offset + pos, `the block's two length fields differ (${length}, ${r.u32(pos + length - 4)})`);
      }
      this.#block(r, r.u32(pos), pos, length, offset, onRecord);
      pos += length;
    }
    return pos;
  }

  #byteOrder(buf: Buffer, pos: number, offset: number): void {
    const magic = buf.readUInt32LE(pos + 8);
    if (magic === f.BYTE_ORDER_MAGIC) this.#little = true;
    else if (magic === 0x4d3c2b1a) this.#little = false;
    else throw damaged(this.#path, offset + pos, `a section header has no byte-order magic (0x${magic.toString(16)})`);
  }

  #block(r: Fields, type: number, pos: number, length: number, offset: number, onRecord: OnRecord): void {
    const end = pos + length - 4;
    const at = offset + pos;
    switch (type) {
      case f.SHB: {
        if (length < 28) throw damaged(this.#path, at, 'a section header block is too short');
        const major = r.u16(pos + 12);
        const minor = r.u16(pos + 14);
        // As libpcap: the first section must be 1.0 or 1.2; later ones only of major version 1.
        if (major !== 1 || (this.#sections === 0 && minor !== 0 && minor !== 2)) {
          throw unsupported(this.#path, at + 12, `pcapng version ${major}.${minor} is not supported (1.0 and 1.2 are)`);
        }
        this.#sections++;
        this.#sectionBase = this.interfaces.length;
        return;
      }
      case f.IDB: {
        if (length < 20) throw damaged(this.#path, at, 'an interface description block is too short');
        let name: string | undefined;
        let tsresol = 6;
        let tsoffset = 0;
        options(r, pos + 16, end, (code, start, len) => {
          if (code === f.IF_NAME) name = r.buf.toString('utf8', start, start + len).replace(/\0+$/, '');
          else if (code === f.IF_TSRESOL && len >= 1) tsresol = r.buf[start]!;
          else if (code === f.IF_TSOFFSET && len >= 8) tsoffset = Number(BigInt.asIntN(64, r.u64(start)));
        });
        // Finer than 10⁻¹⁹ or 2⁻⁶³ of a second does not fit libpcap's 64-bit arithmetic, and it refuses it.
        if (tsresol & 0x80 ? (tsresol & 0x7f) > 63 : tsresol > 19) {
          throw unsupported(this.#path, at, `an interface's timestamp resolution (if_tsresol ${tsresol}) is too fine`);
        }
        const linkType = r.u16(pos + 8);
        this.interfaces.push({
          linkType,
          name,
          drops: 0,
          swapped: r.little !== f.HOST_LITTLE_ENDIAN,
          snaplen: snapshotLength(linkType, r.u32(pos + 12)),
          clock: clockOf(tsresol, tsoffset),
        });
        return;
      }
      case f.EPB:
      case f.PB: {
        if (length < 32) throw damaged(this.#path, at, 'a packet block is too short');
        // The obsolete Packet Block: a 16-bit interface ID and a 16-bit drop count where the EPB has a 32-bit ID.
        const iface = this.#interface(type === f.EPB ? r.u32(pos + 8) : r.u16(pos + 8), at);
        const caplen = r.u32(pos + 20);
        if (caplen > iface.description.snaplen) {
          throw damaged(
            this.#path,
            at,
            `a packet of ${caplen} captured bytes is longer than its interface's snapshot length (${iface.description.snaplen})`,
          );
        }
        const dataEnd = pos + 28 + caplen;
        if (dataEnd > end) throw damaged(this.#path, at, `a packet of ${caplen} bytes does not fit its block`);
        let flags = 0;
        let owner: RecordedProcess | null = null;
        const comments: string[] = [];
        options(r, pos + 28 + f.pad4(caplen), end, (code, start, len) => {
          if (code === f.EPB_FLAGS && len >= 4) flags = r.u32(start);
          else if (code === f.OPT_COMMENT) comments.push(r.buf.toString('utf8', start, start + len));
          else if (code === f.OPT_CUSTOM_UTF8 && r.little) owner ??= decodeCustom(r.buf.subarray(start, start + len));
        });
        owner ??= comments.length > 0 ? decodeComments(comments) : null;
        const [seconds, nanoseconds] = this.#time(r.u32(pos + 12), r.u32(pos + 16), iface, at);
        onRecord(iface.id, seconds, nanoseconds, r.buf.subarray(pos + 28, dataEnd), r.u32(pos + 24), (flags & 3) === f.EPB_OUTBOUND, owner);
        return;
      }
      case f.SPB: {
        if (length < 16) throw damaged(this.#path, at, 'a simple packet block is too short');
        const iface = this.#interface(0, at);
        const wireLength = r.u32(pos + 8);
        // The captured length is the packet's, up to the interface's snapshot length; the block must hold it.
        const caplen = Math.min(wireLength, iface.description.snaplen);
        if (pos + 12 + caplen > end) throw damaged(this.#path, at, `a simple packet block does not hold its ${caplen} bytes`);
        onRecord(iface.id, 0, 0, r.buf.subarray(pos + 12, pos + 12 + caplen), wireLength, false);
        return;
      }
      case f.ISB: {
        if (length < 24) throw damaged(this.#path, at, 'an interface statistics block is too short');
        const iface = this.#interface(r.u32(pos + 8), at);
        options(r, pos + 20, end, (code, start, len) => {
          if (code === f.ISB_IFDROP && len >= 8) iface.description.drops = Number(r.u64(start));
        });
        return;
      }
      case f.DSB: {
        if (length < 20) throw damaged(this.#path, at, 'a decryption secrets block is too short');
        const size = r.u32(pos + 12);
        if (pos + 16 + size > end) throw damaged(this.#path, at, `a decryption secrets block does not hold its ${size} bytes`);
        // TLS key logs are kept; other secrets (WireGuard, SSH...) are not tapwire's to read.
        if (r.u32(pos + 8) === f.SECRETS_TLS_KEY_LOG) this.secrets.push(r.buf.toString('latin1', pos + 16, pos + 16 + size));
        return;
      }
      default:
        return; // Name resolution, custom blocks...: not packets.
    }
  }

  #interface(id: number, at: number): { id: number; description: SectionInterface } {
    const global = this.#sectionBase + id;
    const description = this.interfaces[global];
    if (!description) throw damaged(this.#path, at, `a block refers to interface ${id}, which was not described`);
    return { id: global, description };
  }

  #time(high: number, low: number, iface: { description: SectionInterface }, at: number): [number, number] {
    const [seconds, nanoseconds] = timeOf(high, low, iface.description.clock);
    // Past 2106 is read (seconds beyond 32 bits); before 1970, or beyond what a double holds exactly, is not.
    if (seconds < 0 || seconds > Number.MAX_SAFE_INTEGER) throw damaged(this.#path, at, 'a timestamp is out of range');
    return [seconds, nanoseconds];
  }
}
