// libpcap's side of the translator harness: its validator and interpreter, apart from
// the eBPF headers (both name a struct bpf_insn).
#include "classic_reference.h"

#include <pcap/pcap.h>

#include "../../native/filter/pcap_linux.h"

bool ClassicValid(const void* code, size_t count) {
  return bpf_validate(static_cast<const struct bpf_insn*>(code), int(count)) != 0;
}

unsigned ClassicVerdict(const void* code, const uint8_t* packet, size_t length) {
  // As the kernel's test run has it: no VLAN tag in the frame's metadata.
  return tapwire_pcap_filter_linux(static_cast<const struct bpf_insn*>(code), packet, unsigned(length), unsigned(length), 0, 0);
}
