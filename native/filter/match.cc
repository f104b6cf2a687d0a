// libpcap's own interpreter, the reference a kernel-side filter is checked against.
#include <napi.h>
#include <pcap/pcap.h>

namespace tapwire {

// matchFilter(classicProgram, packet, wireLength) → snap length (0 = rejected).
Napi::Value MatchFilter(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> code = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Buffer<uint8_t> packet = info[1].As<Napi::Buffer<uint8_t>>();
  uint32_t wireLength = info[2].As<Napi::Number>().Uint32Value();
  u_int verdict = bpf_filter(reinterpret_cast<const struct bpf_insn*>(code.Data()), packet.Data(), wireLength,
                             u_int(packet.Length()));
  return Napi::Number::New(info.Env(), verdict);
}

}  // namespace tapwire
