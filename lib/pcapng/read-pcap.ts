/**
 * Classic pcap: a 24-byte header, then records of a 16-byte header and the packet.
 * Read as libpcap reads it (sf-pcap.c), odd files included: the other byte order,
 * Alexey Kuznetzov's modified format (24-byte record headers), versions before 2.3 and
 * DG/UX's 543.0 (captured and original length the other way round), a record longer
 * than the file's snapshot length (cut to it, the rest skipped), and timestamps kept
 * as the file holds them, a fraction of a second or more included.
 */
import {
  damaged,
  Fields,
  maxSnaplen,
  snapshotLength,
  unsupported,
  type CaptureFileParser,
  type FileInterface,
  type OnRecord,
} from './reader';
import * as f from './format';

/** Which of captured and original length comes first in a record (pcap 2.3 changed it, and some 2.3 files did not). */
type LengthOrder = 'captured-first' | 'original-first' | 'either';

export class PcapParser implements CaptureFileParser {
  readonly format = 'pcap';
  readonly interfaces: FileInterface[];
  readonly #path: string;
  readonly #little: boolean;
  readonly #fractionToNs: number;
  readonly #recordBytes: number;
  readonly #lengths: LengthOrder;
  /** The most bytes of a record that are packet (libpcap's snapshot), and the most a record may claim. */
  readonly #snapshot: number;
  readonly #max: number;

  /** `head` holds at least the file header (checked: a shorter file is damaged); `magic` is its first word in the file's byte order. */
  constructor(head: Buffer, path: string, little: boolean, magic: number) {
    this.#path = path;
    this.#little = little;
    this.#fractionToNs = magic === f.PCAP_MAGIC_NS ? 1 : 1000;
    this.#recordBytes = magic === f.PCAP_MAGIC_KUZNETZOV ? f.PCAP_KUZNETZOV_RECORD_BYTES : f.PCAP_RECORD_BYTES;
    if (head.length < f.PCAP_HEADER_BYTES) throw damaged(path, head.length, 'the file ends inside the pcap header');
    const h = new Fields(head, little);
    const major = h.u16(4);
    const minor = h.u16(6);
    if (major < 2) throw unsupported(path, 4, `pcap version ${major}.${minor} is archaic`);
    if (!((major === 2 && minor <= 4) || (major === 543 && minor === 0))) {
      throw unsupported(path, 4, `pcap version ${major}.${minor} is not supported (2.0 to 2.4 and 543.0 are)`);
    }
    this.#lengths = major === 543 || minor < 3 ? 'original-first' : minor === 3 ? 'either' : 'captured-first';
    const field = h.u32(20);
    // The lower 16 bits are the link type, the upper 6 may say how long an FCS is; the rest is reserved.
    if ((field & f.LINKTYPE_RESERVED_BITS) !== 0) {
      throw unsupported(path, 20, `the link type field's reserved bits are set (0x${field.toString(16)})`);
    }
    const linkType = field & 0xffff;
    this.#max = maxSnaplen(linkType);
    this.#snapshot = snapshotLength(linkType, h.u32(16));
    // A modified-format capture may have been made in cooked mode, with an Ethernet header added after the cut.
    if (magic === f.PCAP_MAGIC_KUZNETZOV && linkType === f.LINKTYPE_ETHERNET) this.#snapshot = Math.min(this.#snapshot + 14, 0x7fffffff);
    this.interfaces = [{ linkType, name: undefined, drops: 0, swapped: little !== f.HOST_LITTLE_ENDIAN }];
  }

  parse(buf: Buffer, offset: number, onRecord: OnRecord): number {
    const r = new Fields(buf, this.#little);
    let pos = offset === 0 ? f.PCAP_HEADER_BYTES : 0;
    while (pos + this.#recordBytes <= buf.length) {
      let caplen = r.u32(pos + 8);
      let length = r.u32(pos + 12);
      if (this.#lengths === 'original-first' || (this.#lengths === 'either' && caplen > length)) [caplen, length] = [length, caplen];
      if (caplen > this.#max) {
        throw damaged(
          this.#path,
          offset + pos,
          `a record claims ${caplen} captured bytes, more than the ${this.#max} its link type allows`,
        );
      }
      const start = pos + this.#recordBytes;
      const end = start + caplen;
      if (end > buf.length) break;
      // The seconds as an unsigned 32-bit count (libpcap 1.10 read them signed, later ones do not); the
      // fraction as it is, even at a second or more: tcpdump shows it so, and a file written back keeps it.
      onRecord(
        0,
        r.u32(pos),
        r.u32(pos + 4) * this.#fractionToNs,
        buf.subarray(start, start + Math.min(caplen, this.#snapshot)),
        length,
        false,
      );
      pos = end;
    }
    return pos;
  }
}
