/* What libpcap does for a live Linux capture and offers no public call for: compile with
 * its special VLAN handling, and interpret such a program. The kernel takes 802.1Q tags
 * out of received frames (and often out of sent ones) into metadata before any filter
 * runs; libpcap's Linux capture module asks the code generator to test that metadata
 * (SKF_AD_VLAN_TAG_PRESENT, SKF_AD_VLAN_TAG), without which `vlan` never matches a live
 * frame. Built by scripts/static-deps.sh inside libpcap's own build tree, against its
 * private pcap-int.h and config.h, and archived into its libpcap.a: the pcap_t it
 * reaches into is always the one it was built with. */
#include <config.h>

#include "pcap-int.h"
#include "pcap_linux.h"

void tapwire_pcap_compile_as_linux(pcap_t* p) { p->bpf_codegen_flags |= BPF_SPECIAL_VLAN_HANDLING; }

unsigned tapwire_pcap_filter_linux(const struct bpf_insn* program, const unsigned char* packet, unsigned wirelen, unsigned buflen,
                                   unsigned vlan_present, unsigned vlan_tci) {
  struct pcap_bpf_aux_data aux;
  aux.vlan_tag_present = (u_short)(vlan_present != 0);
  aux.vlan_tag = (u_short)vlan_tci;
  return pcap_filter_with_aux_data(program, packet, wirelen, buflen, &aux);
}
