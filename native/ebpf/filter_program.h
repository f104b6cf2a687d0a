// pcap filters for the eBPF backend: libpcap's classic BPF translated to eBPF that runs
// at the tcx hook (or as a socket filter), so rejected packets are never copied.
#pragma once
#include <linux/bpf.h>
#include <linux/filter.h>

#include <stdexcept>
#include <vector>

namespace tapwire {

struct FilterProgramSpec {
  enum class Ending {
    // Accept: store the snap length in cb[] and tail-call COPY; reject: tail-call
    // REJECT. What the capture attaches.
    kTailCall,
    // Return the snap length (0 = reject), as libpcap's bpf_filter() does. What the
    // differential test runs with BPF_PROG_TEST_RUN.
    kVerdict,
  };
  Ending ending = Ending::kTailCall;
  int slotsFd = -1;    // program array holding COPY and REJECT (kTailCall)
  int direction = -1;  // written to cb[] for tc programs; -1: not written
  int fallback = 0;    // returned if a tail call fails
  // Read the packet directly where it lies in the linear part of the skb, calling
  // bpf_skb_load_bytes only beyond it. TC programs may; socket filters may not.
  bool directLoads = false;
  // Return `fallback` at once for a packet this host sends (a socket filter on loopback:
  // each such packet comes back in as well).
  bool skipOutgoing = false;
};

class FilterTranslationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Whether `code` is a classic BPF opcode (what SO_ATTACH_FILTER takes).
bool IsClassicOpcode(uint16_t code);

std::vector<struct bpf_insn> TranslateFilter(const struct sock_filter* code, size_t count, const FilterProgramSpec& spec);

}  // namespace tapwire
