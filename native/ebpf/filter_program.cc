// Classic BPF has an accumulator A, an index X, 16 scratch words M[] and packet loads
// that end the program (rejecting) when out of bounds. The eBPF form keeps A in r0, X
// in r7, the context in r6, a saved A in r8, and M[] on the stack; packet loads call
// bpf_skb_load_bytes, which also reads non-linear skbs, and a failed load rejects.
// Arithmetic and comparisons are 32-bit, as in classic BPF.
#include "filter_program.h"

#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <string>

#include "bpf/capture.h"

namespace tapwire {

namespace {

constexpr int R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R6 = 6, R7 = 7, R8 = 8, R10 = 10;
constexpr int kMemWords = 16;
constexpr int kScratchOff = -(kMemWords * 4) - 8;  // M[i] at fp + kScratchOff + 4*i
constexpr int kLoadBufOff = -8;                    // bytes read from the packet land here
constexpr uint32_t kAncillaryBase = 0xfffff000;    // SKF_AD_OFF and the negative offsets
// Largest K, and largest X, read directly: their sum stays within what the verifier
// accepts as a packet offset.
constexpr uint32_t kMaxDirectOffset = 0x3fff;

struct bpf_insn Insn(uint8_t code, int dst, int src, int16_t off, int32_t imm) {
  struct bpf_insn i;
  memset(&i, 0, sizeof(i));
  i.code = code;
  i.dst_reg = dst;
  i.src_reg = src;
  i.off = off;
  i.imm = imm;
  return i;
}

FilterTranslationError NoEbpfForm(uint16_t code) {
  char hex[8];
  snprintf(hex, sizeof(hex), "%#x", code);
  return FilterTranslationError(std::string("filter has an instruction with no eBPF form (code ") + hex + ")");
}

int32_t CbOffset(int word) { return offsetof(struct __sk_buff, cb) + 4 * word; }

// A jump waiting for its target's position: a classic instruction or a label.
enum class Target { kClassic, kAccept, kReject };

struct Fixup {
  size_t at;
  Target kind;
  size_t classic;
};

class Translator {
 public:
  Translator(const struct sock_filter* code, size_t count, const FilterProgramSpec& spec)
      : code_(code), count_(count), spec_(spec), start_(count + 1, 0) {}

  std::vector<struct bpf_insn> Run() {
    std::vector<bool> reachable = Reachable();
    Prologue();
    for (size_t pc = 0; pc < count_; pc++) {
      start_[pc] = out_.size();
      if (reachable[pc]) Classic(pc);
    }
    start_[count_] = out_.size();
    // The verifier refuses unreachable code: emit only the endings something jumps to.
    auto used = [&](Target t) {
      for (const Fixup& f : fixups_)
        if (f.kind == t) return true;
      return false;
    };
    size_t accept = out_.size();
    if (used(Target::kAccept)) Accept();
    size_t reject = out_.size();
    if (used(Target::kReject)) Reject();
    for (const Fixup& f : fixups_) {
      size_t target = f.kind == Target::kAccept ? accept : f.kind == Target::kReject ? reject : start_[f.classic];
      long off = long(target) - long(f.at) - 1;
      if (off < INT16_MIN || off > INT16_MAX) throw FilterTranslationError("filter too long for eBPF jumps");
      out_[f.at].off = int16_t(off);
    }
    return out_;
  }

 private:
  std::vector<bool> Reachable() {
    std::vector<bool> seen(count_, false);
    std::vector<size_t> todo = {0};
    while (!todo.empty()) {
      size_t pc = todo.back();
      todo.pop_back();
      if (pc >= count_) throw FilterTranslationError("filter jumps past its end");
      if (seen[pc]) continue;
      seen[pc] = true;
      const struct sock_filter& f = code_[pc];
      if (BPF_CLASS(f.code) == BPF_RET) continue;
      if (BPF_CLASS(f.code) == BPF_JMP) {
        if (BPF_OP(f.code) == BPF_JA) {
          // k wraps around: libpcap's protochain loops back this way, which neither
          // the kernel's classic checker nor the eBPF verifier accepts.
          uint32_t target = uint32_t(pc + 1 + f.k);
          if (target <= pc) throw FilterTranslationError("filter jumps backwards (a loop, as protochain makes)");
          todo.push_back(target);
        } else {
          todo.push_back(pc + 1 + f.jt);
          todo.push_back(pc + 1 + f.jf);
        }
        continue;
      }
      todo.push_back(pc + 1);
    }
    return seen;
  }

  void Emit(struct bpf_insn i) { out_.push_back(i); }

  void Jump(uint8_t code, int dst, int src, int32_t imm, Target kind, size_t classic = 0) {
    fixups_.push_back({out_.size(), kind, classic});
    Emit(Insn(code, dst, src, 0, imm));
  }

  void Prologue() {
    Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_X, R6, R1, 0, 0));  // r6 = ctx
    if (spec_.skipOutgoing) {
      Emit(Insn(BPF_LDX | BPF_MEM | BPF_W, R1, R6, offsetof(struct __sk_buff, pkt_type), 0));
      Emit(Insn(BPF_JMP | BPF_JNE | BPF_K, R1, 0, 2, PACKET_OUTGOING));
      Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, spec_.fallback));
      Emit(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    }
    if (spec_.direction >= 0) {  // the verifier takes no immediate stores into the context
      Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, R1, 0, 0, spec_.direction));
      Emit(Insn(BPF_STX | BPF_MEM | BPF_W, R6, R1, int16_t(CbOffset(TAPWIRE_CB_DIRECTION)), 0));
    }
    Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0));  // A = 0
    Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, R7, 0, 0, 0));  // X = 0
    for (int i = 0; i < kMemWords; i += 2)                 // M[] = 0, eight bytes at a time
      Emit(Insn(BPF_ST | BPF_MEM | BPF_DW, R10, 0, int16_t(kScratchOff + 4 * i), 0));
  }

  static uint8_t Size(uint16_t code) {
    switch (BPF_SIZE(code)) {
      case BPF_W:
        return 4;
      case BPF_H:
        return 2;
      default:
        return 1;
    }
  }

  // dst = packet[offset] (big-endian), offset = K or X + K; a failed load rejects.
  void PacketLoad(uint16_t code, uint32_t k, bool indexed, int dst) {
    if (!indexed && k >= kAncillaryBase) throw FilterTranslationError("filter uses a Linux ancillary load, which has no eBPF form here");
    uint8_t size = Size(code);
    uint8_t width = size == 4 ? BPF_W : size == 2 ? BPF_H : BPF_B;
    // Direct read, when the bytes are in the skb's linear part; offsets are bounded
    // first so the verifier can prove every access.
    size_t toSlow1 = 0, toSlow2 = 0, toDone = 0;
    bool direct = spec_.directLoads && k <= kMaxDirectOffset;
    if (direct) {
      Emit(Insn(BPF_LDX | BPF_MEM | BPF_W, R2, R6, offsetof(struct __sk_buff, data), 0));
      Emit(Insn(BPF_LDX | BPF_MEM | BPF_W, R3, R6, offsetof(struct __sk_buff, data_end), 0));
      if (indexed) {
        Emit(Insn(BPF_ALU | BPF_MOV | BPF_X, R4, R7, 0, 0));
        toSlow1 = out_.size();
        Emit(Insn(BPF_JMP | BPF_JGT | BPF_K, R4, 0, 0, int32_t(kMaxDirectOffset)));
        Emit(Insn(BPF_ALU64 | BPF_ADD | BPF_X, R2, R4, 0, 0));
      }
      Emit(Insn(BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, int32_t(k)));
      Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_X, R4, R2, 0, 0));
      Emit(Insn(BPF_ALU64 | BPF_ADD | BPF_K, R4, 0, 0, size));
      toSlow2 = out_.size();
      Emit(Insn(BPF_JMP | BPF_JGT | BPF_X, R4, R3, 0, 0));
      Emit(Insn(BPF_LDX | BPF_MEM | width, dst, R2, 0, 0));
      if (size > 1) Emit(Insn(BPF_ALU | BPF_END | BPF_TO_BE, dst, 0, 0, size * 8));
      toDone = out_.size();
      Emit(Insn(BPF_JMP | BPF_JA, 0, 0, 0, 0));
    }
    size_t slow = out_.size();
    Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R6, 0, 0));
    if (indexed) {
      // X + K in 64 bits: classic BPF rejects an offset past 4 GiB, where 32-bit
      // arithmetic (and the helper's u32 offset) would wrap to the packet's start.
      Emit(Insn(BPF_ALU | BPF_MOV | BPF_X, R2, R7, 0, 0));
      Emit(Insn(BPF_ALU | BPF_MOV | BPF_K, R3, 0, 0, int32_t(k)));
      Emit(Insn(BPF_ALU64 | BPF_ADD | BPF_X, R2, R3, 0, 0));
      Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_X, R3, R2, 0, 0));
      Emit(Insn(BPF_ALU64 | BPF_RSH | BPF_K, R3, 0, 0, 32));
      Jump(BPF_JMP | BPF_JNE | BPF_K, R3, 0, 0, Target::kReject);
    } else {
      Emit(Insn(BPF_ALU | BPF_MOV | BPF_K, R2, 0, 0, int32_t(k)));
    }
    Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_X, R3, R10, 0, 0));
    Emit(Insn(BPF_ALU64 | BPF_ADD | BPF_K, R3, 0, 0, kLoadBufOff));
    Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, R4, 0, 0, size));
    Emit(Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_load_bytes));
    Jump(BPF_JMP | BPF_JNE | BPF_K, R0, 0, 0, Target::kReject);
    Emit(Insn(BPF_LDX | BPF_MEM | width, dst, R10, kLoadBufOff, 0));
    if (size > 1) Emit(Insn(BPF_ALU | BPF_END | BPF_TO_BE, dst, 0, 0, size * 8));
    if (direct) {
      auto to = [&](size_t from, size_t target) { out_[from].off = int16_t(long(target) - long(from) - 1); };
      if (indexed) to(toSlow1, slow);
      to(toSlow2, slow);
      to(toDone, out_.size());
    }
  }

  // The Linux ancillary loads libpcap compiles for a live link (a `vlan` test): the
  // 802.1Q tag the kernel holds in the frame's metadata, read from the context as the
  // kernel reads it for a classic filter.
  void AncillaryLoad(uint32_t k) {
    switch (k - kAncillaryBase) {
      case SKF_AD_VLAN_TAG:
        Emit(Insn(BPF_LDX | BPF_MEM | BPF_W, R0, R6, offsetof(struct __sk_buff, vlan_tci), 0));
        return;
      case SKF_AD_VLAN_TAG_PRESENT:
        Emit(Insn(BPF_LDX | BPF_MEM | BPF_W, R0, R6, offsetof(struct __sk_buff, vlan_present), 0));
        return;
    }
    throw FilterTranslationError("filter uses a Linux ancillary load, which has no eBPF form here");
  }

  int16_t Mem(uint32_t k) {
    if (k >= kMemWords) throw FilterTranslationError("filter uses scratch memory out of range");
    return int16_t(kScratchOff + 4 * int(k));
  }

  void Classic(size_t pc) {
    const struct sock_filter& f = code_[pc];
    uint16_t c = f.code;
    switch (BPF_CLASS(c)) {
      case BPF_LD:
      case BPF_LDX: {
        bool toX = BPF_CLASS(c) == BPF_LDX;
        int dst = toX ? R7 : R0;
        switch (BPF_MODE(c)) {
          case BPF_IMM:
            Emit(Insn(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, int32_t(f.k)));
            return;
          case BPF_MEM:
            Emit(Insn(BPF_LDX | BPF_MEM | BPF_W, dst, R10, Mem(f.k), 0));
            return;
          case BPF_LEN:
            Emit(Insn(BPF_LDX | BPF_MEM | BPF_W, dst, R6, offsetof(struct __sk_buff, len), 0));
            return;
          case BPF_ABS:
            if (toX) break;
            if (f.k >= kAncillaryBase) {
              AncillaryLoad(f.k);
              return;
            }
            PacketLoad(c, f.k, false, R0);
            return;
          case BPF_IND:
            if (toX) break;
            PacketLoad(c, f.k, true, R0);
            return;
          case BPF_MSH:  // X = 4 * (P[k] & 0xf): the IPv4 header length idiom
            if (!toX) break;
            Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_X, R8, R0, 0, 0));
            PacketLoad(BPF_LD | BPF_B | BPF_ABS, f.k, false, R0);
            Emit(Insn(BPF_ALU | BPF_AND | BPF_K, R0, 0, 0, 0xf));
            Emit(Insn(BPF_ALU | BPF_LSH | BPF_K, R0, 0, 0, 2));
            Emit(Insn(BPF_ALU | BPF_MOV | BPF_X, R7, R0, 0, 0));
            Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_X, R0, R8, 0, 0));
            return;
        }
        break;
      }
      case BPF_ST:
        Emit(Insn(BPF_STX | BPF_MEM | BPF_W, R10, R0, Mem(f.k), 0));
        return;
      case BPF_STX:
        Emit(Insn(BPF_STX | BPF_MEM | BPF_W, R10, R7, Mem(f.k), 0));
        return;
      case BPF_ALU: {
        uint8_t op = BPF_OP(c);
        if (op == BPF_NEG) {
          Emit(Insn(BPF_ALU | BPF_NEG, R0, 0, 0, 0));
          return;
        }
        bool byX = BPF_SRC(c) == BPF_X;
        if ((op == BPF_DIV || op == BPF_MOD) && !byX && f.k == 0) throw FilterTranslationError("filter divides by zero");
        if ((op == BPF_DIV || op == BPF_MOD) && byX)  // classic BPF rejects on X == 0
          Jump(BPF_JMP32 | BPF_JEQ | BPF_K, R7, 0, 0, Target::kReject);
        if ((op == BPF_LSH || op == BPF_RSH) && !byX && f.k >= 32) throw FilterTranslationError("filter shifts by 32 or more");
        if ((op == BPF_LSH || op == BPF_RSH) && byX) {
          // Classic BPF shifts by X of 32 or more give 0; eBPF would shift by X mod 32.
          Emit(Insn(BPF_JMP32 | BPF_JGE | BPF_K, R7, 0, 2, 32));
          Emit(Insn(BPF_ALU | op | BPF_X, R0, R7, 0, 0));
          Emit(Insn(BPF_JMP | BPF_JA, 0, 0, 1, 0));
          Emit(Insn(BPF_ALU | BPF_MOV | BPF_K, R0, 0, 0, 0));
          return;
        }
        Emit(byX ? Insn(BPF_ALU | op | BPF_X, R0, R7, 0, 0) : Insn(BPF_ALU | op | BPF_K, R0, 0, 0, int32_t(f.k)));
        return;
      }
      case BPF_JMP: {
        uint8_t op = BPF_OP(c);
        if (op == BPF_JA) {
          Jump(BPF_JMP | BPF_JA, 0, 0, 0, Target::kClassic, pc + 1 + f.k);
          return;
        }
        bool byX = BPF_SRC(c) == BPF_X;
        Jump(BPF_JMP32 | op | (byX ? BPF_X : BPF_K), R0, byX ? R7 : 0, byX ? 0 : int32_t(f.k), Target::kClassic, pc + 1 + f.jt);
        if (f.jf != 0) Jump(BPF_JMP | BPF_JA, 0, 0, 0, Target::kClassic, pc + 1 + f.jf);
        return;
      }
      case BPF_RET:
        if (BPF_RVAL(c) == BPF_K) {
          if (f.k == 0) {
            Jump(BPF_JMP | BPF_JA, 0, 0, 0, Target::kReject);
          } else {
            Emit(Insn(BPF_ALU | BPF_MOV | BPF_K, R0, 0, 0, int32_t(f.k)));
            Jump(BPF_JMP | BPF_JA, 0, 0, 0, Target::kAccept);
          }
          return;
        }
        if (BPF_RVAL(c) == BPF_A) {
          Jump(BPF_JMP32 | BPF_JEQ | BPF_K, R0, 0, 0, Target::kReject);
          Jump(BPF_JMP | BPF_JA, 0, 0, 0, Target::kAccept);
          return;
        }
        break;
      case BPF_MISC:
        if (BPF_MISCOP(c) == BPF_TAX) {
          Emit(Insn(BPF_ALU | BPF_MOV | BPF_X, R7, R0, 0, 0));
          return;
        }
        if (BPF_MISCOP(c) == BPF_TXA) {
          Emit(Insn(BPF_ALU | BPF_MOV | BPF_X, R0, R7, 0, 0));
          return;
        }
        break;
    }
    throw NoEbpfForm(c);
  }

  void TailCall(int slot) {
    Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R6, 0, 0));
    Emit(Insn(BPF_LD | BPF_DW | BPF_IMM, R2, BPF_PSEUDO_MAP_FD, 0, spec_.slotsFd));
    Emit(Insn(0, 0, 0, 0, 0));
    Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, R3, 0, 0, slot));
    Emit(Insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call));
    Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, spec_.fallback));
    Emit(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  }

  // r0 holds the snap length.
  void Accept() {
    if (spec_.ending == FilterProgramSpec::Ending::kVerdict) {
      Emit(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
      return;
    }
    Emit(Insn(BPF_STX | BPF_MEM | BPF_W, R6, R0, int16_t(CbOffset(TAPWIRE_CB_SNAPLEN)), 0));
    TailCall(TAPWIRE_SLOT_COPY);
  }

  void Reject() {
    if (spec_.ending == FilterProgramSpec::Ending::kVerdict) {
      Emit(Insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0));
      Emit(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
      return;
    }
    TailCall(TAPWIRE_SLOT_REJECT);
  }

  const struct sock_filter* code_;
  size_t count_;
  FilterProgramSpec spec_;
  std::vector<size_t> start_;
  std::vector<struct bpf_insn> out_;
  std::vector<Fixup> fixups_;
};

}  // namespace

// The opcodes the kernel's classic checker takes (its codes[] table): bits outside
// them mean nothing to the translator, and libpcap's interpreter aborts on them.
bool IsClassicOpcode(uint16_t code) {
  switch (code) {
    case BPF_ALU | BPF_ADD | BPF_K:
    case BPF_ALU | BPF_ADD | BPF_X:
    case BPF_ALU | BPF_SUB | BPF_K:
    case BPF_ALU | BPF_SUB | BPF_X:
    case BPF_ALU | BPF_MUL | BPF_K:
    case BPF_ALU | BPF_MUL | BPF_X:
    case BPF_ALU | BPF_DIV | BPF_K:
    case BPF_ALU | BPF_DIV | BPF_X:
    case BPF_ALU | BPF_MOD | BPF_K:
    case BPF_ALU | BPF_MOD | BPF_X:
    case BPF_ALU | BPF_AND | BPF_K:
    case BPF_ALU | BPF_AND | BPF_X:
    case BPF_ALU | BPF_OR | BPF_K:
    case BPF_ALU | BPF_OR | BPF_X:
    case BPF_ALU | BPF_XOR | BPF_K:
    case BPF_ALU | BPF_XOR | BPF_X:
    case BPF_ALU | BPF_LSH | BPF_K:
    case BPF_ALU | BPF_LSH | BPF_X:
    case BPF_ALU | BPF_RSH | BPF_K:
    case BPF_ALU | BPF_RSH | BPF_X:
    case BPF_ALU | BPF_NEG:
    case BPF_LD | BPF_W | BPF_ABS:
    case BPF_LD | BPF_H | BPF_ABS:
    case BPF_LD | BPF_B | BPF_ABS:
    case BPF_LD | BPF_W | BPF_IND:
    case BPF_LD | BPF_H | BPF_IND:
    case BPF_LD | BPF_B | BPF_IND:
    case BPF_LD | BPF_W | BPF_LEN:
    case BPF_LD | BPF_IMM:
    case BPF_LD | BPF_MEM:
    case BPF_LDX | BPF_W | BPF_LEN:
    case BPF_LDX | BPF_B | BPF_MSH:
    case BPF_LDX | BPF_IMM:
    case BPF_LDX | BPF_MEM:
    case BPF_ST:
    case BPF_STX:
    case BPF_MISC | BPF_TAX:
    case BPF_MISC | BPF_TXA:
    case BPF_RET | BPF_K:
    case BPF_RET | BPF_A:
    case BPF_JMP | BPF_JA:
    case BPF_JMP | BPF_JEQ | BPF_K:
    case BPF_JMP | BPF_JEQ | BPF_X:
    case BPF_JMP | BPF_JGE | BPF_K:
    case BPF_JMP | BPF_JGE | BPF_X:
    case BPF_JMP | BPF_JGT | BPF_K:
    case BPF_JMP | BPF_JGT | BPF_X:
    case BPF_JMP | BPF_JSET | BPF_K:
    case BPF_JMP | BPF_JSET | BPF_X:
      return true;
    default:
      return false;
  }
}

std::vector<struct bpf_insn> TranslateFilter(const struct sock_filter* code, size_t count, const FilterProgramSpec& spec) {
  if (count == 0) throw FilterTranslationError("empty filter program");
  for (size_t pc = 0; pc < count; pc++) {
    if (!IsClassicOpcode(code[pc].code)) throw NoEbpfForm(code[pc].code);
  }
  return Translator(code, count, spec).Run();
}

}  // namespace tapwire
