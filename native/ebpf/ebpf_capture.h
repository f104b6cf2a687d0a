// The eBPF backend's native half: loads the capture object (skeleton), loads one filter
// program per link type and direction, attaches them (tcx links or packet sockets; both
// owned by file descriptors, so the kernel removes them when we close or die), and
// reads the ring buffer into batches.
#pragma once
#include <napi.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "../common/bpf_objects.h"
#include "../common/clock_offset.h"
#include "../common/fd.h"
#include "../common/kernel_source.h"
#include "../common/ring_drain.h"
#include "capture_programs.h"
#include "owner_hooks.h"

struct capture;

namespace tapwire {

class EbpfCapture : public KernelSource<EbpfCapture> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit EbpfCapture(const Napi::CallbackInfo& info);
  ~EbpfCapture() override;

 private:
  // attachInterface(target): hooks an interface that appeared during the capture.
  Napi::Value AttachInterface(const Napi::CallbackInfo& info);
  // releaseInterface(ifindex): lets go of an interface that went away.
  Napi::Value ReleaseInterface(const Napi::CallbackInfo& info);
  // existingSockets(): how attribution named the sockets open at the start (OwnerHooks).
  Napi::Value ExistingSockets(const Napi::CallbackInfo& info);

  void Open(Napi::Env env, const Napi::Object& options);
  void AddTarget(Napi::Env env, const Napi::Object& target);
  int FilterProgram(Napi::Env env, const Napi::Buffer<uint8_t>& classic, int direction, bool skipOutgoing);
  void Attach(Napi::Env env, uint32_t ifindex, const Napi::Buffer<uint8_t>& classic, bool outgoing);
  void AttachCgroup(Napi::Env env, const std::string& path, const Napi::Buffer<uint8_t>& classic);
  void Promiscuous(Napi::Env env, uint32_t ifindex);

  bool IsOpen() const override { return skel_ != nullptr; }
  void Detach(Napi::Env env) override;
  void Flushing(bool detached) override { drain_.SetDetached(detached); }
  void ReadCounters() override;
  void PutStats(Napi::Env env, Napi::Object& out) override;
  void Drain() override;
  void Release() override;

  Hook hook_ = Hook::kTcx;
  std::unique_ptr<OwnerHooks> owners_;  // when records carry their packet's owner
  Skeleton<struct capture> skel_;
  int slotsFd_ = -1;  // the skeleton's program array
  // (classic program, direction, outgoing skipped) → program
  std::map<std::tuple<std::string, int, bool>, Fd> filterFds_;
  // Per interface: tcx link fds and packet sockets; closing them detaches.
  // (A cgroup capture's two links are under ifindex 0.)
  std::map<uint32_t, std::vector<Fd>> attachments_;
  struct Interface {
    uint16_t hardwareType;  // ARPHRD_*
    uint64_t packets = 0;   // delivered, and their bytes on the wire
    uint64_t bytes = 0;
  };
  // Kept after an interface goes: its last records may still be in the ring.
  std::unordered_map<uint32_t, Interface> interfaces_;
  RingDrain drain_;
  ClockOffset clock_;
  // The filters' cut: a frame whose VLAN tag is put back is cut there again.
  uint32_t snaplen_ = 0;
  uint64_t filtered_ = 0;
  uint64_t ringDrops_ = 0;
  uint64_t userDrops_ = 0;
};

// filterVerdicts(classicProgram, packets[], form) → snap lengths (0 = rejected), from the
// translated program run by the kernel with BPF_PROG_TEST_RUN; null for a packet the
// kernel will not build a test skb from. form: 'tc-direct' (direct packet reads, as
// at tcx), 'tc' (helper reads) or 'socket' (a socket filter, as on a packet socket).
Napi::Value FilterVerdicts(const Napi::CallbackInfo& info);

}  // namespace tapwire
