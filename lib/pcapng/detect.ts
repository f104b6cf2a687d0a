/** Which parser reads a capture file, told by its first bytes. */
import { FileError } from '../errors';
import * as f from './format';
import { PcapParser } from './read-pcap';
import { PcapngParser } from './read-pcapng';
import type { CaptureFileParser } from './reader';

/** `head`: the file's first bytes, as many as one read gave (a classic pcap header needs 24). */
export function parserFor(head: Buffer, path: string): CaptureFileParser {
  if (head.length >= 12 && head.readUInt32LE(0) === f.SHB) return new PcapngParser(path);
  if (head.length >= 4) {
    for (const magic of [f.PCAP_MAGIC_US, f.PCAP_MAGIC_NS, f.PCAP_MAGIC_KUZNETZOV]) {
      if (head.readUInt32LE(0) === magic) return new PcapParser(head, path, true, magic);
      if (head.readUInt32BE(0) === magic) return new PcapParser(head, path, false, magic);
    }
  }
  if (head.length === 0) throw new FileError(`${path} is empty: it is not a pcap or pcapng file`, { path, offset: 0 });
  throw new FileError(`${path} is not a pcap or pcapng file (it starts with 0x${head.subarray(0, 4).toString('hex')})`, {
    path,
    offset: 0,
  });
}
