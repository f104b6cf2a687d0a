/** Header views: a packet's link, network and transport headers, read in place (see view.ts). */
export { HeaderView, LINKTYPE, ETHERTYPE, IPPROTO, TCP } from './view';
export { ipv4Text, ipv6Text, macText } from './address';
