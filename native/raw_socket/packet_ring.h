// An AF_PACKET socket with a TPACKET_V3 receive ring, polled on the Node event loop.
// One readable event → every retired block copied into one batch each, handed to JS,
// and returned to the kernel at once. Pausing stops polling: the kernel ring then
// absorbs the burst and counts what it cannot hold in PACKET_STATISTICS.
//
// With `zeroCopy`, nothing is copied: the ring itself is one ArrayBuffer made at open
// (and the packets' records, written per block into a second one), a batch is a
// block's number, and the block stays JavaScript's until release(block). A block not
// given back stops the kernel at it (it drops, and counts), and nothing else. close()
// detaches both ArrayBuffers, so a view kept past it reads nothing rather than unmapped
// memory, and unmaps them; without close() the memory goes when both this object and
// the ArrayBuffers are collected.
#pragma once
#include <napi.h>
#include <stdint.h>

#include <memory>
#include <vector>

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
  // views() → [ring, records, recordsPerBlock] (zeroCopy only)
  Napi::Value Views(const Napi::CallbackInfo& info);
  // release(block): the lent block goes back to the kernel.
  Napi::Value ReleaseBlock(const Napi::CallbackInfo& info);
  // unretired() → the packets in the block the kernel fills, which no flush can hand
  // over until the kernel's block timer retires it.
  Napi::Value Unretired(const Napi::CallbackInfo& info);
  void Lend(Napi::Env env);
  // Copies each packet of the block at `base` into a batch.
  void Copy(uint8_t* base);
  // Writes the block's packet records beside it and lends it.
  void View(uint32_t block, uint8_t* base);

  bool IsOpen() const override { return bool(fd_); }
  void Detach(Napi::Env env) override;
  void ReadCounters() override;
  void PutStats(Napi::Env env, Napi::Object& out) override;
  // Delivers every retired block.
  void Drain() override;
  void Release() override;
  void Closing(Napi::Env env) override;

  Fd fd_;
  // Shared with the ArrayBuffers lent over it (zeroCopy): unmapped when all let go.
  std::shared_ptr<Mapping> ring_;
  std::shared_ptr<Mapping> records_;
  uint32_t recordsPerBlock_ = 0;
  std::vector<bool> lent_;
  Napi::Reference<Napi::ArrayBuffer> ringView_;
  Napi::Reference<Napi::ArrayBuffer> recordsView_;
  uint32_t blockSize_ = 0;
  uint32_t blockCount_ = 0;
  // The filter's cut: a frame with its VLAN tag put back is cut there again.
  uint32_t snaplen_ = 0;
  uint32_t nextBlock_ = 0;
  uint64_t kernelDrops_ = 0;
  uint64_t userDrops_ = 0;
};

}  // namespace tapwire
