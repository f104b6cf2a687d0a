// The eBPF backend's native half: loads the capture object (skeleton), loads one filter
// program per link type and direction, attaches them (tcx links or packet sockets; both
// owned by file descriptors, so the kernel removes them when we close or die), and
// reads the ring buffer into batches.
#pragma once
#include <napi.h>

#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "../common/bpf_objects.h"
#include "../common/clock_offset.h"
#include "../common/delivery.h"
#include "../common/fd.h"
#include "ring_reader.h"

struct capture;

namespace tapwire {

class EbpfCapture : public Napi::ObjectWrap<EbpfCapture>, private Delivery::Source {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit EbpfCapture(const Napi::CallbackInfo& info);
  ~EbpfCapture() override;

 private:
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // attachInterface(target): hooks an interface that appeared during the capture.
  Napi::Value AttachInterface(const Napi::CallbackInfo& info);
  // releaseInterface(ifindex): lets go of an interface that went away.
  Napi::Value ReleaseInterface(const Napi::CallbackInfo& info);

  void Open(Napi::Env env, const Napi::Object& options);
  void AddTarget(Napi::Env env, const Napi::Object& target);
  int FilterProgram(Napi::Env env, const Napi::Buffer<uint8_t>& classic, int direction, bool skipOutgoing);
  void Attach(Napi::Env env, uint32_t ifindex, const Napi::Buffer<uint8_t>& classic, bool outgoing);
  void Promiscuous(Napi::Env env, uint32_t ifindex);
  void Drain() override;
  void ReadCounters();
  void Release() override;

  Delivery delivery_;
  bool tcx_ = true;
  Skeleton<struct capture> skel_;
  int slotsFd_ = -1;  // the skeleton's program array
  // (classic program, direction, outgoing skipped) → program
  std::map<std::tuple<std::string, int, bool>, Fd> filterFds_;
  // Per interface: tcx link fds and packet sockets; closing them detaches.
  std::map<uint32_t, std::vector<Fd>> attachments_;
  struct Interface {
    uint16_t hardwareType;  // ARPHRD_*
    uint64_t packets = 0;   // delivered, and their bytes on the wire
    uint64_t bytes = 0;
  };
  // Kept after an interface goes: its last records may still be in the ring.
  std::unordered_map<uint32_t, Interface> interfaces_;
  RingReader ring_;
  ClockOffset clock_;
  bool closing_ = false;
  int busyWaits_ = 0;
  size_t batchBytes_ = 0;
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
