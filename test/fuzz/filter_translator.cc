// libFuzzer harness for the classic-to-eBPF filter translator (native/ebpf/filter_program.cc).
// An input is a classic BPF program and a packet:
//   [form u8][count u8][count × struct sock_filter][packet bytes]
// form % 3 picks what the capture loads: 0 tc with direct reads, 1 tc through the
// helper, 2 a socket filter. For each program libpcap's validator accepts (what
// SO_ATTACH_FILTER would take) and that reads no scratch word before writing it
// (libpcap leaves them uninitialised), the translation must either be refused
// (FilterTranslationError: ERR_BAD_FILTER) or load into the kernel; when it loads, its
// verdict on the packet (BPF_PROG_TEST_RUN, tc forms) must be bpf_filter()'s.
// Anything else aborts, and libFuzzer keeps the input. Runs as root.
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vector>

#include "../../native/ebpf/filter_program.h"
#include "classic_reference.h"

namespace {

constexpr size_t kEthernetHeader = 14;
constexpr size_t kMaxPacket = 1500;

// Whether every load of a scratch word M[k] follows a store to it on every path (the
// kernel's classic checker asks the same). Classic BPF only jumps forward.
bool ScratchWrittenBeforeRead(const struct sock_filter* code, size_t count) {
  std::vector<uint32_t> valid(count + 1, 0xffff);
  valid[0] = 0;
  for (size_t pc = 0; pc < count; pc++) {
    uint32_t v = valid[pc];
    const struct sock_filter& f = code[pc];
    uint16_t cls = BPF_CLASS(f.code);
    if ((cls == BPF_LD || cls == BPF_LDX) && BPF_MODE(f.code) == BPF_MEM && !(v & (1u << (f.k & 15)))) return false;
    if (cls == BPF_ST || cls == BPF_STX) v |= 1u << (f.k & 15);
    if (cls == BPF_RET) continue;
    if (cls == BPF_JMP) {
      if (BPF_OP(f.code) == BPF_JA) {
        size_t to = pc + 1 + f.k;
        if (to <= count) valid[to] &= v;
      } else {
        valid[pc + 1 + f.jt] &= v;
        valid[pc + 1 + f.jf] &= v;
      }
      continue;
    }
    valid[pc + 1] &= v;
  }
  return true;
}

void Fail(const char* what, const std::vector<char>* log) {
  fprintf(stderr, "filter_translator: %s\n", what);
  if (log) fprintf(stderr, "%s\n", log->data());
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  int form = data[0] % 3;
  size_t count = data[1];
  if (count == 0 || size < 2 + count * sizeof(struct sock_filter)) return 0;
  std::vector<struct sock_filter> code(count);
  memcpy(code.data(), data + 2, count * sizeof(struct sock_filter));
  const uint8_t* rest = data + 2 + count * sizeof(struct sock_filter);
  size_t restSize = size - 2 - count * sizeof(struct sock_filter);

  tapwire::FilterProgramSpec spec;
  spec.ending = tapwire::FilterProgramSpec::Ending::kVerdict;
  spec.directLoads = form == 0;
  auto translate = [&]() -> std::vector<struct bpf_insn> {
    try {
      return tapwire::TranslateFilter(code.data(), count, spec);
    } catch (const tapwire::FilterTranslationError&) {
      return {};  // refused: the capture reports ERR_BAD_FILTER
    }
  };
  // Opcodes the kernel's classic checker does not know (libpcap's validator lets
  // unknown bits through, and its interpreter then aborts) must be refused.
  for (const struct sock_filter& f : code) {
    if (!tapwire::IsClassicOpcode(f.code)) {
      if (!translate().empty()) Fail("a program with an unknown opcode was translated", nullptr);
      return 0;
    }
  }
  // libpcap's bpf_insn has the same layout as the kernel's sock_filter.
  if (!ClassicValid(code.data(), count) || !ScratchWrittenBeforeRead(code.data(), count)) return 0;
  std::vector<struct bpf_insn> insns = translate();
  if (insns.empty()) return 0;

  bpf_prog_type type = form == 2 ? BPF_PROG_TYPE_SOCKET_FILTER : BPF_PROG_TYPE_SCHED_CLS;
  std::vector<char> log(1 << 20, 0);
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_level = 1, .log_size = uint32_t(log.size()), .log_buf = log.data());
  int fd = bpf_prog_load(type, "tw_fuzz", "GPL", insns.data(), insns.size(), &opts);
  if (fd < 0) Fail("the kernel refused a translated program", &log);

  if (form != 2) {
    // The packet: what the input holds, at least an Ethernet header.
    std::vector<uint8_t> packet(rest, rest + (restSize < kMaxPacket ? restSize : kMaxPacket));
    if (packet.size() < kEthernetHeader) packet.resize(kEthernetHeader, 0);
    LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = packet.data(), .data_size_in = uint32_t(packet.size()));
    if (bpf_prog_test_run_opts(fd, &run) == 0) {
      unsigned expected = ClassicVerdict(code.data(), packet.data(), packet.size());
      if (run.retval != expected) {
        fprintf(stderr, "filter_translator: verdict %u, bpf_filter() says %u\n", run.retval, expected);
        Fail("the translation disagrees with libpcap", nullptr);
      }
    } else if (errno != EINVAL) {  // EINVAL: the kernel builds no skb from this packet
      Fail("BPF_PROG_TEST_RUN failed", nullptr);
    }
  }
  close(fd);
  return 0;
}
