// Runs a compiled filter over one packet in user space with libpcap's own interpreter:
// replayed files are filtered by it, and the eBPF translation is checked against it.
#include "filter.h"
#include "pcap_linux.h"

#include <napi.h>

#include "../common/errors.h"

namespace tapwire {

// matchFilter(program, packet, wireLength[, vlanTci]) → bytes to keep (0: rejected).
// `program` is what compileFilter returned; `packet` holds the captured bytes. A live
// link's program also reads whether the kernel holds a VLAN tag in the frame's metadata
// (vlanTci), as the kernel runs it: none unless given.
Napi::Value MatchFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> program = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Buffer<uint8_t> packet = info[1].As<Napi::Buffer<uint8_t>>();
  uint32_t wireLength = info[2].As<Napi::Number>().Uint32Value();
  const struct bpf_insn* insns = reinterpret_cast<const struct bpf_insn*>(program.Data());
  int count = int(program.Length() / sizeof(struct bpf_insn));
  // bpf_filter() trusts its program; a bad one would read out of bounds.
  if (program.Length() % sizeof(struct bpf_insn) != 0 || !bpf_validate(insns, count)) {
    throw PlainError(env, "not a valid classic BPF program", "EFILTER");
  }
  bool tagged = info.Length() > 3 && info[3].IsNumber();
  unsigned tci = tagged ? info[3].As<Napi::Number>().Uint32Value() : 0;
  u_int kept = tapwire_pcap_filter_linux(insns, packet.Data(), wireLength, u_int(packet.Length()), tagged, tci);
  return Napi::Number::New(env, kept);
}

}  // namespace tapwire
