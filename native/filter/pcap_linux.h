/* pcap_linux.c, archived into libpcap.a by scripts/static-deps.sh: compile as libpcap
 * does for a live Linux capture (802.1Q tags the kernel holds in metadata), and run such
 * a program. */
#pragma once
#include <pcap/pcap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Compiles on `p` as on a live Linux capture: `vlan` tests the tag in metadata too. */
void tapwire_pcap_compile_as_linux(pcap_t* p);

/* libpcap's interpreter with the frame's metadata: whether the kernel holds a VLAN tag
 * for it, and the tag. */
unsigned tapwire_pcap_filter_linux(const struct bpf_insn* program, const unsigned char* packet, unsigned wirelen, unsigned buflen,
                                   unsigned vlan_present, unsigned vlan_tci);

#ifdef __cplusplus
}
#endif
