#include "ebpf_capture.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/batch.h"
#include "../common/clock_offset.h"
#include "../common/errors.h"
#include "../common/options.h"
#include "../common/packet_socket.h"
#include "../common/vlan.h"
#include "bpf/capture.h"
#include "bpf/owner.h"
#include "capture.skel.h"
#include "capture_programs.h"

namespace tapwire {

namespace {

constexpr size_t kMinRecordBytes = 8 + sizeof(struct tapwire_record) + TAPWIRE_MIN_ROOM;
constexpr uint16_t kRawIp = 0xfffe;  // ARPHRD_NONE: packets that start at the IP header

}  // namespace

Napi::Function EbpfCapture::Init(Napi::Env env) {
  return Define(env, "EbpfCapture",
                {
                    InstanceMethod<&EbpfCapture::AttachInterface>("attachInterface"),
                    InstanceMethod<&EbpfCapture::ReleaseInterface>("releaseInterface"),
                    InstanceMethod<&EbpfCapture::ExistingSockets>("existingSockets"),
                });
}

// new EbpfCapture({ attach: 'tcx' | 'socket' | 'cgroup', ringSize, wakeupBytes, batchBytes, drainIntervalMs,
//                   snaplen, promiscuous, targets: [{ ifindex, hardwareType, filter, outgoing }],
//                   cgroup?: { path, filter }, attribution?: { cgroupRoot } }, onBatch)
EbpfCapture::EbpfCapture(const Napi::CallbackInfo& info) : KernelSource(info, "tapwire:EbpfCapture") {
  Open(info.Env(), info[0].As<Napi::Object>());
}

EbpfCapture::~EbpfCapture() { Release(); }

void EbpfCapture::Open(Napi::Env env, const Napi::Object& options) {
  hook_ = HookNamed(options.Get("attach").As<Napi::String>().Utf8Value());
  uint32_t ringSize = UintOption(options, "ringSize");
  snaplen_ = UintOption(options, "snaplen");

  CaptureProgramsSpec spec;
  spec.hook = hook_;
  spec.ringSize = ringSize;
  spec.wakeupBytes = UintOption(options, "wakeupBytes");
  if (options.Has("attribution")) {
    Napi::Object attribution = options.Get("attribution").As<Napi::Object>();
    try {
      owners_ = std::make_unique<OwnerHooks>(env, attribution.Get("cgroupRoot").As<Napi::String>().Utf8Value());
    } catch (Napi::Error& e) {
      e.Set("attribution", true);  // no other attach mode or backend could do better
      throw;
    }
    spec.ownersFd = owners_->MapFd();
  }
  skel_ = LoadCapturePrograms(env, spec);
  slotsFd_ = SlotsFd(skel_.get(), hook_);

  drain_.Open(env, delivery_, bpf_map__fd(skel_->maps.tw_records), ringSize, UintOption(options, "batchBytes"),
              UintOption(options, "drainIntervalMs"));

  // Every-interface captures list the interfaces first: one deleted before it could be
  // hooked (ENODEV) is passed over, and the link watch reports it gone.
  bool skipGone = options.Get("skipGone").ToBoolean();
  Napi::Array targets = options.Get("targets").As<Napi::Array>();
  for (uint32_t i = 0; i < targets.Length(); i++) {
    Napi::Object t = targets.Get(i).As<Napi::Object>();
    try {
      AddTarget(env, t);
    } catch (const Napi::Error& e) {
      Napi::Value err = e.Value().Get("errno");
      if (!skipGone || !err.IsNumber() || err.As<Napi::Number>().Int32Value() != ENODEV) throw;
      attachments_.erase(UintOption(t, "ifindex"));
      continue;
    }
    if (options.Get("promiscuous").ToBoolean()) Promiscuous(env, UintOption(t, "ifindex"));
  }
  if (hook_ == Hook::kCgroup) {
    Napi::Object cgroup = options.Get("cgroup").As<Napi::Object>();
    AttachCgroup(env, cgroup.Get("path").As<Napi::String>(), cgroup.Get("filter").As<Napi::Buffer<uint8_t>>());
  }
}

// Both inet hooks of the cgroup: what its sockets (and its descendants') send and
// receive. The links hold the cgroup's directory open only while attaching.
void EbpfCapture::AttachCgroup(Napi::Env env, const std::string& path, const Napi::Buffer<uint8_t>& classic) {
  Fd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw SystemError(env, "open (the cgroup)", errno);
  for (int direction : {0, 1}) {
    int prog = FilterProgram(env, classic, direction, false);
    Fd link(bpf_link_create(prog, dir.get(), direction ? BPF_CGROUP_INET_EGRESS : BPF_CGROUP_INET_INGRESS, nullptr));
    if (!link) throw SystemError(env, "bpf(BPF_LINK_CREATE) cgroup", errno);
    attachments_[0].push_back(std::move(link));
  }
}

// target: { ifindex, hardwareType, filter, outgoing }
void EbpfCapture::AddTarget(Napi::Env env, const Napi::Object& target) {
  uint32_t ifindex = UintOption(target, "ifindex");
  interfaces_[ifindex].hardwareType = uint16_t(UintOption(target, "hardwareType"));
  Attach(env, ifindex, target.Get("filter").As<Napi::Buffer<uint8_t>>(), target.Get("outgoing").ToBoolean());
}

Napi::Value EbpfCapture::AttachInterface(const Napi::CallbackInfo& info) {
  if (!skel_ || detached()) throw PlainError(info.Env(), "the capture is closed", "ECLOSED");
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

Napi::Value EbpfCapture::ExistingSockets(const Napi::CallbackInfo& info) {
  return owners_ ? owners_->ExistingSockets(info.Env()) : info.Env().Null();
}

// A packet socket that is never bound receives nothing and holds the membership.
void EbpfCapture::Promiscuous(Napi::Env env, uint32_t ifindex) {
  Fd fd = OpenPacketSocket(env);
  AddPromiscuous(env, fd.get(), ifindex);
  attachments_[ifindex].push_back(std::move(fd));
}

int EbpfCapture::FilterProgram(Napi::Env env, const Napi::Buffer<uint8_t>& classic, int direction, bool skipOutgoing) {
  auto key = std::make_tuple(std::string(reinterpret_cast<const char*>(classic.Data()), classic.Length()), direction, skipOutgoing);
  auto found = filterFds_.find(key);
  if (found != filterFds_.end()) return found->second.get();
  FilterProgramSpec spec;
  spec.slotsFd = slotsFd_;
  spec.direction = direction;
  spec.fallback = FallbackVerdict(hook_);
  spec.skipOutgoing = skipOutgoing;
  bpf_prog_type type = FilterProgramType(hook_);
  const auto* code = reinterpret_cast<const struct sock_filter*>(classic.Data());
  size_t count = classic.Length() / sizeof(struct sock_filter);
  Fd fd;
  if (hook_ == Hook::kTcx) {
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
  if (hook_ == Hook::kTcx) {
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
  Fd fd = OpenPacketSocket(env);
  if (setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) != 0)
    throw SystemError(env, "setsockopt(SO_ATTACH_BPF)", errno, "EFILTER");
  BindPacketSocket(env, fd.get(), ifindex);
  attachments_[ifindex].push_back(std::move(fd));
}

void EbpfCapture::Drain() {
  drain_.Drain(delivery_, [this](RingReader& ring, size_t take) {
    const bool owned = owners_ != nullptr;
    const size_t header = sizeof(struct tapwire_record) + (owned ? sizeof(struct tapwire_owners) : 0);
    BatchBuilder batch(delivery_.buffers(), uint32_t(take / kMinRecordBytes + 1), take, owned);
    if (!batch.ok()) return ring.Consume(take, [this](const uint8_t*, uint32_t) { userDrops_++; });
    int64_t offset = clock_.Now();
    // Runs of packets come from one interface: look it up when the index changes.
    // (The map does not change during a drain.)
    uint32_t lastIndex = 0;
    Interface* iface = nullptr;
    size_t consumed = ring.Consume(take, [&](const uint8_t* data, uint32_t size) {
      const auto* r = reinterpret_cast<const struct tapwire_record*>(data);
      if (size < header || r->cap_len > size - header) {
        userDrops_++;
        return;
      }
      uint64_t ns = uint64_t(int64_t(r->monotonic_ns) + offset);
      if (!iface || r->ifindex != lastIndex) {
        auto found = interfaces_.find(r->ifindex);
        iface = found == interfaces_.end() ? nullptr : &found->second;
        lastIndex = r->ifindex;
      }
      // At a cgroup's hooks every packet starts at its IP header, whatever the interface.
      uint16_t hardwareType = hook_ == Hook::kCgroup ? kRawIp : iface ? iface->hardwareType : 0;
      VlanTag tag{r->vlan_tpid, r->vlan_tci};
      bool tagged = tag.AppliesTo(hardwareType == ARPHRD_ETHER, r->cap_len);
      uint32_t caplen = tagged ? VlanTag::TaggedCaplen(r->cap_len, snaplen_) : r->cap_len;
      uint32_t wirelen = tagged ? r->wire_len + kVlanTagLength : r->wire_len;
      uint8_t* out = batch.Add(caplen, wirelen, r->ifindex, uint32_t(ns / 1000000000ULL), uint32_t(ns % 1000000000ULL), hardwareType,
                               r->direction != 0);
      if (out) {
        if (tagged) {
          tag.CopyTagged(out, data + header, caplen);
        } else {
          memcpy(out, data + header, caplen);
        }
        if (owned) memcpy(batch.LastOwner(), r + 1, sizeof(struct tapwire_owners));
        if (iface) {
          iface->packets++;
          iface->bytes += r->wire_len;
        }
      } else {
        userDrops_++;
      }
    });
    delivery_.Hand(batch);
    return consumed;
  });
}

// Unhooks every link and socket: no packet enters the ring after this returns, and
// every record committed before it can still be flushed.
void EbpfCapture::Detach(Napi::Env) { attachments_.clear(); }

void EbpfCapture::ReadCounters() {
  int fd = bpf_map__fd(skel_->maps.tw_counters);
  filtered_ = SumPerCpu(fd, TAPWIRE_COUNTER_FILTERED);
  ringDrops_ = SumPerCpu(fd, TAPWIRE_COUNTER_RING_DROPS);
}

void EbpfCapture::PutStats(Napi::Env env, Napi::Object& out) {
  out.Set("filtered", Napi::Number::New(env, double(filtered_)));
  out.Set("ringDrops", Napi::Number::New(env, double(ringDrops_)));
  out.Set("userspaceDrops", Napi::Number::New(env, double(userDrops_)));
  Napi::Array perInterface = Napi::Array::New(env);
  uint32_t n = 0;
  for (const auto& [index, iface] : interfaces_) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("index", index);
    entry.Set("packets", Napi::Number::New(env, double(iface.packets)));
    entry.Set("bytes", Napi::Number::New(env, double(iface.bytes)));
    entry.Set("attached", attachments_.count(index) > 0);
    perInterface.Set(n++, entry);
  }
  out.Set("interfaces", perInterface);
}

void EbpfCapture::Release() {
  attachments_.clear();
  delivery_.Close();
  filterFds_.clear();
  drain_.Close();
  skel_.reset();
  owners_.reset();
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
