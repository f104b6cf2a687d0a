#include "ebpf_capture.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/batch.h"
#include "../common/clock_offset.h"
#include "../common/errors.h"
#include "../common/options.h"
#include "bpf/capture.h"
#include "capture.skel.h"
#include "capture_programs.h"
#include "libbpf_log.h"

namespace tapwire {

namespace {

// Ring space handed over per batch: about what a TPACKET_V3 block holds.
constexpr size_t kBatchRingBytes = 2 << 20;
constexpr size_t kMinRecordBytes = 8 + sizeof(struct tapwire_record) + TAPWIRE_MIN_ROOM;
constexpr int kMaxBusyWaits = 10000;

}  // namespace

Napi::Function EbpfCapture::Init(Napi::Env env) {
  return DefineClass(env, "EbpfCapture",
                     {
                         InstanceMethod<&EbpfCapture::Resume>("resume"),
                         InstanceMethod<&EbpfCapture::Pause>("pause"),
                         InstanceMethod<&EbpfCapture::Flush>("flush"),
                         InstanceMethod<&EbpfCapture::Detach>("detach"),
                         InstanceMethod<&EbpfCapture::Stats>("stats"),
                         InstanceMethod<&EbpfCapture::Close>("close"),
                         InstanceMethod<&EbpfCapture::AttachInterface>("attachInterface"),
                         InstanceMethod<&EbpfCapture::ReleaseInterface>("releaseInterface"),
                     });
}

// new EbpfCapture({ attach: 'tcx' | 'socket', ringSize, wakeupBytes, batchTimeoutMs,
//                   promiscuous, targets: [{ ifindex, hardwareType, filter, outgoing }] }, onBatch)
EbpfCapture::EbpfCapture(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<EbpfCapture>(info),
      delivery_(info.Env(), info[1].As<Napi::Function>(), "tapwire:EbpfCapture", *this) {
  Open(info.Env(), info[0].As<Napi::Object>());
}

EbpfCapture::~EbpfCapture() { Release(); }

void EbpfCapture::Open(Napi::Env env, const Napi::Object& options) {
  tcx_ = options.Get("attach").As<Napi::String>().Utf8Value() == "tcx";
  uint32_t ringSize = UintOption(options, "ringSize");
  batchBytes_ = ringSize / 4 < kBatchRingBytes ? ringSize / 4 : kBatchRingBytes;

  CaptureProgramsSpec spec;
  spec.tcx = tcx_;
  spec.ringSize = ringSize;
  spec.wakeupBytes = UintOption(options, "wakeupBytes");
  skel_ = LoadCapturePrograms(env, spec);
  slotsFd_ = bpf_map__fd(tcx_ ? skel_->maps.tw_tc_slots : skel_->maps.tw_sock_slots);

  if (int err = ring_.Map(bpf_map__fd(skel_->maps.tw_records), ringSize)) throw SystemError(env, "mapping the ring buffer", err);
  delivery_.Watch(ring_.wakeups());
  delivery_.SetInterval(UintOption(options, "batchTimeoutMs"));

  Napi::Array targets = options.Get("targets").As<Napi::Array>();
  for (uint32_t i = 0; i < targets.Length(); i++) {
    Napi::Object t = targets.Get(i).As<Napi::Object>();
    AddTarget(env, t);
    if (options.Get("promiscuous").ToBoolean()) Promiscuous(env, UintOption(t, "ifindex"));
  }
}

// target: { ifindex, hardwareType, filter, outgoing }
void EbpfCapture::AddTarget(Napi::Env env, const Napi::Object& target) {
  uint32_t ifindex = UintOption(target, "ifindex");
  interfaces_[ifindex].hardwareType = uint16_t(UintOption(target, "hardwareType"));
  Attach(env, ifindex, target.Get("filter").As<Napi::Buffer<uint8_t>>(), target.Get("outgoing").ToBoolean());
}

Napi::Value EbpfCapture::AttachInterface(const Napi::CallbackInfo& info) {
  if (!skel_ || closing_) throw PlainError(info.Env(), "the capture is closed", "ECLOSED");
  Napi::Object target = info[0].As<Napi::Object>();
  try {
    AddTarget(info.Env(), target);
  } catch (...) {
    // Half an interface (ingress without egress) is none.
    attachments_.erase(UintOption(target, "ifindex"));
    throw;
  }
  return info.Env().Undefined();
}

Napi::Value EbpfCapture::ReleaseInterface(const Napi::CallbackInfo& info) {
  attachments_.erase(info[0].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

// A packet socket that receives nothing (protocol 0) holds the membership, so the kernel
// drops promiscuous mode when the socket closes, also if this process dies.
void EbpfCapture::Promiscuous(Napi::Env env, uint32_t ifindex) {
  Fd fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!fd) throw SystemError(env, "socket", errno);
  struct packet_mreq mreq;
  memset(&mreq, 0, sizeof(mreq));
  mreq.mr_ifindex = int(ifindex);
  mreq.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0)
    throw SystemError(env, "setsockopt(PACKET_ADD_MEMBERSHIP)", errno);
  attachments_[ifindex].push_back(std::move(fd));
}

int EbpfCapture::FilterProgram(Napi::Env env, const Napi::Buffer<uint8_t>& classic, int direction, bool skipOutgoing) {
  auto key = std::make_tuple(std::string(reinterpret_cast<const char*>(classic.Data()), classic.Length()), direction, skipOutgoing);
  auto found = filterFds_.find(key);
  if (found != filterFds_.end()) return found->second.get();
  FilterProgramSpec spec;
  spec.slotsFd = slotsFd_;
  spec.direction = direction;
  spec.fallback = tcx_ ? TAPWIRE_TCX_NEXT : 0;
  spec.skipOutgoing = skipOutgoing;
  bpf_prog_type type = tcx_ ? BPF_PROG_TYPE_SCHED_CLS : BPF_PROG_TYPE_SOCKET_FILTER;
  const auto* code = reinterpret_cast<const struct sock_filter*>(classic.Data());
  size_t count = classic.Length() / sizeof(struct sock_filter);
  Fd fd;
  if (tcx_) {
    // Direct packet reads need variable pointer arithmetic, which the verifier allows
    // only with CAP_PERFMON (or CAP_SYS_ADMIN): without it, every read goes through
    // the helper.
    spec.directLoads = true;
    try {
      fd = LoadFilterProgram(env, type, code, count, spec);
    } catch (const Napi::Error&) {
    }
    spec.directLoads = false;
  }
  if (!fd) fd = LoadFilterProgram(env, type, code, count, spec);
  return filterFds_.emplace(key, std::move(fd)).first->second.get();
}

// Without `outgoing`, what this host sends is not captured: no egress link, or a
// socket filter that passes it by.
void EbpfCapture::Attach(Napi::Env env, uint32_t ifindex, const Napi::Buffer<uint8_t>& classic, bool outgoing) {
  if (tcx_) {
    for (int direction : {0, 1}) {
      if (direction == 1 && !outgoing) continue;
      int prog = FilterProgram(env, classic, direction, false);
      Fd link(bpf_link_create(prog, int(ifindex), bpf_attach_type(direction ? TAPWIRE_TCX_EGRESS : TAPWIRE_TCX_INGRESS), nullptr));
      if (!link) throw SystemError(env, "bpf(BPF_LINK_CREATE) tcx", errno);
      attachments_[ifindex].push_back(std::move(link));
    }
    return;
  }
  int prog = FilterProgram(env, classic, -1, !outgoing);
  Fd fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
  if (!fd) throw SystemError(env, "socket", errno);
  if (setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) != 0)
    throw SystemError(env, "setsockopt(SO_ATTACH_BPF)", errno);
  struct sockaddr_ll addr;
  memset(&addr, 0, sizeof(addr));
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = int(ifindex);
  if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) throw SystemError(env, "bind", errno);
  attachments_[ifindex].push_back(std::move(fd));
}

void EbpfCapture::Drain() {
  ring_.TakeWakeups();
  // Hand over what was there when we were woken, in batches of batchBytes_; records
  // that arrive meanwhile wait for the next wake-up or tick rather than being chased
  // one small batch at a time.
  size_t budget = ring_.Pending();
  while (budget > 0 && skel_ && delivery_.wanted()) {
    size_t take = budget < batchBytes_ ? budget : batchBytes_;
    BatchBuilder batch(delivery_.buffers(), uint32_t(take / kMinRecordBytes + 1), take);
    size_t consumed;
    if (!batch.ok()) {
      consumed = ring_.Consume(take, [this](const uint8_t*, uint32_t) { userDrops_++; });
    } else {
      int64_t offset = clock_.Now();
      consumed = ring_.Consume(take, [&](const uint8_t* data, uint32_t size) {
        const auto* r = reinterpret_cast<const struct tapwire_record*>(data);
        if (size < sizeof(*r) || r->cap_len > size - sizeof(*r)) {
          userDrops_++;
          return;
        }
        uint64_t ns = uint64_t(int64_t(r->monotonic_ns) + offset);
        auto iface = interfaces_.find(r->ifindex);
        bool known = iface != interfaces_.end();
        uint8_t* out = batch.Add(r->cap_len, r->wire_len, r->ifindex, uint32_t(ns / 1000000000ULL),
                                 uint32_t(ns % 1000000000ULL), known ? iface->second.hardwareType : 0,
                                 r->direction != 0);
        if (out) {
          memcpy(out, r + 1, r->cap_len);
          if (known) {
            iface->second.packets++;
            iface->second.bytes += r->wire_len;
          }
        } else {
          userDrops_++;
        }
      });
      delivery_.Hand(batch);
    }
    budget -= consumed < budget ? consumed : budget;
    if (consumed < take) {
      // A record is still being written. When closing, the program writing it is
      // already unhooked and finishes within microseconds: wait for it.
      if (!closing_ || ++busyWaits_ > kMaxBusyWaits) break;
      sched_yield();
      budget = ring_.Pending();
    }
  }
}

Napi::Value EbpfCapture::Resume(const Napi::CallbackInfo& info) {
  if (skel_) delivery_.Resume();
  return info.Env().Undefined();
}

Napi::Value EbpfCapture::Pause(const Napi::CallbackInfo& info) {
  delivery_.Pause();
  return info.Env().Undefined();
}

// Delivers every record now, whether or not delivery is paused. Called once the links
// are closed, it hands over everything captured.
Napi::Value EbpfCapture::Flush(const Napi::CallbackInfo& info) {
  closing_ = attachments_.empty();
  busyWaits_ = 0;
  if (skel_) delivery_.Flush();
  return info.Env().Undefined();
}

// Unhooks every link and socket: no packet enters the ring after this returns, and
// every record committed before it can still be flushed.
Napi::Value EbpfCapture::Detach(const Napi::CallbackInfo& info) {
  attachments_.clear();
  return info.Env().Undefined();
}

void EbpfCapture::ReadCounters() {
  if (!skel_) return;
  int fd = bpf_map__fd(skel_->maps.tw_counters);
  filtered_ = SumPerCpu(fd, TAPWIRE_COUNTER_FILTERED);
  ringDrops_ = SumPerCpu(fd, TAPWIRE_COUNTER_RING_DROPS);
}

Napi::Value EbpfCapture::Stats(const Napi::CallbackInfo& info) {
  ReadCounters();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("filtered", Napi::Number::New(info.Env(), double(filtered_)));
  out.Set("ringDrops", Napi::Number::New(info.Env(), double(ringDrops_)));
  out.Set("userspaceDrops", Napi::Number::New(info.Env(), double(userDrops_)));
  Napi::Array perInterface = Napi::Array::New(info.Env());
  uint32_t n = 0;
  for (const auto& [index, iface] : interfaces_) {
    Napi::Object entry = Napi::Object::New(info.Env());
    entry.Set("index", index);
    entry.Set("packets", Napi::Number::New(info.Env(), double(iface.packets)));
    entry.Set("bytes", Napi::Number::New(info.Env(), double(iface.bytes)));
    entry.Set("attached", attachments_.count(index) > 0);
    perInterface.Set(n++, entry);
  }
  out.Set("interfaces", perInterface);
  return out;
}

Napi::Value EbpfCapture::Close(const Napi::CallbackInfo& info) {
  ReadCounters();
  Release();
  return info.Env().Undefined();
}

void EbpfCapture::Release() {
  attachments_.clear();
  delivery_.Close();
  filterFds_.clear();
  ring_.Unmap();
  skel_.reset();
}

Napi::Value FilterVerdicts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> classic = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Array packets = info[1].As<Napi::Array>();
  std::string form = info[2].As<Napi::String>();
  FilterProgramSpec spec;
  spec.ending = FilterProgramSpec::Ending::kVerdict;
  spec.directLoads = form == "tc-direct";
  bpf_prog_type type = form == "socket" ? BPF_PROG_TYPE_SOCKET_FILTER : BPF_PROG_TYPE_SCHED_CLS;
  Fd fd = LoadFilterProgram(env, type, reinterpret_cast<const struct sock_filter*>(classic.Data()),
                             classic.Length() / sizeof(struct sock_filter), spec);
  Napi::Array verdicts = Napi::Array::New(env, packets.Length());
  for (uint32_t i = 0; i < packets.Length(); i++) {
    Napi::Buffer<uint8_t> pkt = packets.Get(i).As<Napi::Buffer<uint8_t>>();
    LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt.Data(), .data_size_in = uint32_t(pkt.Length()));
    if (bpf_prog_test_run_opts(fd.get(), &run) != 0) {
      int err = errno;
      if (err == EINVAL) {  // the kernel builds no skb from a truncated IP header
        verdicts.Set(i, env.Null());
        continue;
      }
      throw SystemError(env, "bpf(BPF_PROG_TEST_RUN)", err);
    }
    verdicts.Set(i, Napi::Number::New(env, run.retval));
  }
  return verdicts;
}

}  // namespace tapwire
