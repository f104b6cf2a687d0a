/** Classic pcap: a 24-byte header, then records of a 16-byte header and the packet. */
import { damaged, Fields, type CaptureFileParser, type FileInterface, type OnRecord } from './reader';
import * as f from './format';

export class PcapParser implements CaptureFileParser {
  readonly format = 'pcap';
  readonly interfaces: FileInterface[];
  readonly #path: string;
  readonly #little: boolean;
  readonly #fractionToNs: number;

  /** `head` holds at least the file header (checked: a shorter file is damaged). */
  constructor(head: Buffer, path: string, little: boolean, nanoseconds: boolean) {
    this.#path = path;
    this.#little = little;
    this.#fractionToNs = nanoseconds ? 1 : 1000;
    if (head.length < f.PCAP_HEADER_BYTES) throw damaged(path, head.length, 'the file ends inside the pcap header');
    const h = new Fields(head, little);
    // The upper bits of the link type field carry FCS information.
    this.interfaces = [{ linkType: h.u32(20) & 0xffff, name: undefined, drops: 0 }];
  }

  parse(buf: Buffer, offset: number, onRecord: OnRecord): number {
    const r = new Fields(buf, this.#little);
    let pos = offset === 0 ? f.PCAP_HEADER_BYTES : 0;
    while (pos + f.PCAP_RECORD_BYTES <= buf.length) {
      const caplen = r.u32(pos + 8);
      if (caplen > f.MAX_BLOCK_BYTES) throw damaged(this.#path, offset + pos, `a record claims ${caplen} captured bytes`);
      const end = pos + f.PCAP_RECORD_BYTES + caplen;
      if (end > buf.length) break;
      const fraction = r.u32(pos + 4) * this.#fractionToNs;
      // A fraction of a second or more carries into the seconds, which must still fit.
      const seconds = r.u32(pos) + Math.floor(fraction / 1e9);
      if (seconds > 0xffffffff) throw damaged(this.#path, offset + pos, 'a timestamp is out of range');
      onRecord(0, seconds, fraction % 1e9, buf.subarray(pos + f.PCAP_RECORD_BYTES, end), r.u32(pos + 12), false);
      pos = end;
    }
    return pos;
  }
}
