// pcap-filter(7) → classic BPF, by libpcap itself: the program the kernel runs is the
// one tcpdump would run for the same expression, link type and snaplen.
#include <napi.h>
#include <pcap/pcap.h>
#include <string.h>

#include <mutex>

#include "../common/errors.h"

namespace tapwire {

namespace {
// libpcap's code generator keeps global state in older releases; one compile at a time.
std::mutex compileLock;
}  // namespace

// compileFilter(expression, linkType, snaplen) → Buffer of struct sock_filter
// (u16 code, u8 jt, u8 jf, u32 k), ready for SO_ATTACH_FILTER.
Napi::Value CompileFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string expr = info[0].As<Napi::String>();
  int linkType = info[1].As<Napi::Number>().Int32Value();
  int snaplen = info[2].As<Napi::Number>().Int32Value();
  // libpcap reads the expression as a C string: what follows a NUL would be ignored.
  if (size_t nul = expr.find('\0'); nul != std::string::npos)
    throw PlainError(env, "the expression holds a NUL character (at offset " + std::to_string(nul) + ")", "EFILTER");

  std::lock_guard<std::mutex> guard(compileLock);
  pcap_t* p = pcap_open_dead(linkType, snaplen);
  if (!p) throw PlainError(env, "pcap_open_dead failed", "EFILTER");
  struct bpf_program prog;
  if (pcap_compile(p, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    std::string message = pcap_geterr(p);
    pcap_close(p);
    throw PlainError(env, message, "EFILTER");
  }
  static_assert(sizeof(struct bpf_insn) == 8, "classic BPF instructions are 8 bytes");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(
      env, reinterpret_cast<uint8_t*>(prog.bf_insns), size_t(prog.bf_len) * 8);
  pcap_freecode(&prog);
  pcap_close(p);
  return out;
}

}  // namespace tapwire
