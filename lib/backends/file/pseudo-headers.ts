/**
 * Records libpcap rewrites as it reads them (pcap_post_process), which tapwire hands to
 * libpcap itself (native/file/savefile.cc): pseudo-headers that the capturing host wrote
 * in its own byte order, converted when the file's byte order is not this host's, and
 * the original length of some Linux USB captures (memory-mapped), always.
 */
import { FileError } from '../../errors';
import type { FileLink } from '../../filter';
import { native } from '../../native';

const LINKTYPE_USB_LINUX_MMAPPED = 220;
const HOST_ORDER_PSEUDO_HEADERS = new Set([
  113, // LINUX_SLL: a SocketCAN frame's CAN ID
  276, // LINUX_SLL2: the same
  117, // PFLOG: uid and pid fields
  189, // USB_LINUX
  LINKTYPE_USB_LINUX_MMAPPED,
  239, // NFLOG: TLV lengths and types
]);

export function rewrittenByLibpcap(link: FileLink): boolean {
  return link.linkType === LINKTYPE_USB_LINUX_MMAPPED || (link.swapped && HOST_ORDER_PSEUDO_HEADERS.has(link.linkType));
}

/** Rewrites `data` (a record of the file at `path`) as libpcap hands it over; returns the original length libpcap gives. */
export function asLibpcapHandsOver(path: string, link: FileLink, data: Buffer, wireLength: number): number {
  try {
    return native().libpcapRecord(link.linkType, link.swapped, data, wireLength);
  } catch (err) {
    throw new FileError(`${path}: ${(err as Error).message}`, { path });
  }
}
