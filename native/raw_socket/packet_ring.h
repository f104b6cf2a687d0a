// An AF_PACKET socket with a TPACKET_V3 receive ring, polled on the Node event loop.
// One readable event → every retired block copied into one batch each, handed to JS,
// and returned to the kernel at once. Pausing stops polling: the kernel ring then
// absorbs the burst and counts what it cannot hold in PACKET_STATISTICS.
#pragma once
#include <napi.h>
#include <stdint.h>

#include "../common/fd.h"
#include "../common/kernel_source.h"
#include "../common/mapping.h"

namespace tapwire {

class PacketRing : public KernelSource<PacketRing> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit PacketRing(const Napi::CallbackInfo& info);
  ~PacketRing() override;

 private:
  void Open(Napi::Env env, const Napi::Object& options);

  bool IsOpen() const override { return bool(fd_); }
  void Detach(Napi::Env env) override;
  void ReadCounters() override;
  void PutStats(Napi::Env env, Napi::Object& out) override;
  // Delivers every retired block.
  void Drain() override;
  void Release() override;

  Fd fd_;
  Mapping ring_;
  uint32_t blockSize_ = 0;
  uint32_t blockCount_ = 0;
  uint32_t nextBlock_ = 0;
  uint64_t kernelDrops_ = 0;
  uint64_t userDrops_ = 0;
};

}  // namespace tapwire
