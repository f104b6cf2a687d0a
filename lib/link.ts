/** Link layers by Linux hardware type (ARPHRD_*): what pcap calls them, and how to filter them. */

export interface Link {
  /** pcap LINKTYPE_* of the captured bytes (what files record). */
  linkType: number;
  /** libpcap DLT_* to compile a filter for, where libpcap can filter this link. */
  dlt?: number;
}

const DLT_EN10MB = 1;
const DLT_RAW = 12;
const ETHERNET: Link = { linkType: 1, dlt: DLT_EN10MB };
const RAW_IP: Link = { linkType: 101, dlt: DLT_RAW };

export const ARPHRD_ETHER = 1;
export const ARPHRD_LOOPBACK = 772;

const LINKS = new Map<number, Link>([
  [ARPHRD_ETHER, ETHERNET],
  [ARPHRD_LOOPBACK, ETHERNET], // Linux loopback frames carry an Ethernet header
  [65534, RAW_IP], // ARPHRD_NONE: tun, wireguard
  [519, RAW_IP], // ARPHRD_RAWIP
  [768, RAW_IP], // ARPHRD_TUNNEL (ipip)
  [769, RAW_IP], // ARPHRD_TUNNEL6
  [776, RAW_IP], // ARPHRD_SIT
  [801, { linkType: 105 }], // ARPHRD_IEEE80211
  [803, { linkType: 127 }], // ARPHRD_IEEE80211_RADIOTAP
]);

export function linkOf(hardwareType: number): Link | undefined {
  return LINKS.get(hardwareType);
}

/**
 * Whether every frame sent on a link of this type is received on it again: loopback.
 * libpcap keeps only the incoming copy there (so each packet appears once), and so
 * does tapwire.
 */
export function echoesSends(hardwareType: number): boolean {
  return hardwareType === ARPHRD_LOOPBACK;
}

/** Hardware types whose frames start at the IP header. */
export const RAW_IP_HARDWARE = [...LINKS].filter(([, l]) => l === RAW_IP).map(([t]) => t);
export { DLT_EN10MB, DLT_RAW };
