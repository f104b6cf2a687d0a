// Reads a BPF ring buffer map the way the kernel lays it out: a consumer page we write,
// a producer page and the data area (mapped twice, so records never wrap) we read.
// Each record has an 8-byte header: length, with busy and discard bits.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../common/fd.h"
#include "../common/mapping.h"

namespace tapwire {

// The sum over CPUs of entry `key` of a per-CPU array of u64 counters (0 if unreadable).
uint64_t SumPerCpu(int mapFd, uint32_t key);

class RingReader {
 public:
  // Returns 0 or an errno.
  int Map(int mapFd, size_t dataSize);
  // Unmaps the ring: Pending() is 0 from then on.
  void Unmap() { *this = RingReader(); }

  // The ring buffer's own poll is level-triggered on "any data": watched directly, a
  // busy producer would wake the reader every few records and undo the batching its
  // programs do with BPF_RB_NO_WAKEUP. This epoll fd reports only the wake-ups the
  // programs force (edge-triggered); a timer collects the rest.
  int wakeups() const { return wakeups_.get(); }
  // Clears the reported wake-ups; call before draining.
  void TakeWakeups();

  // Bytes of committed-or-busy records not yet consumed.
  size_t Pending() const;

  // Calls fn(record, length) for committed records, in order, until `maxBytes` of ring
  // have been consumed or a record still being written is reached; then releases the
  // space to the kernel. Returns the bytes of ring consumed. A record whose length
  // would reach past what the kernel has reserved is never read: reading stops there,
  // and the programs count what no longer fits as ring drops.
  template <typename Fn>
  size_t Consume(size_t maxBytes, Fn fn) {
    if (!consumer_) return 0;
    uint64_t start = __atomic_load_n(consumer_, __ATOMIC_RELAXED);
    uint64_t cons = start;
    uint64_t prod = __atomic_load_n(producer_, __ATOMIC_ACQUIRE);
    uint64_t limit = cons + maxBytes;
    while (cons < prod && cons < limit) {
      const uint32_t* hdr = reinterpret_cast<const uint32_t*>(data_ + (cons & mask_));
      uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
      if (len & kBusyBit) break;
      uint32_t size = len & ~(kBusyBit | kDiscardBit);
      if (size > dataSize_ - kHeaderSize || cons + kHeaderSize + size > prod) break;
      if (!(len & kDiscardBit)) fn(reinterpret_cast<const uint8_t*>(hdr) + kHeaderSize, size);
      cons += (size + kHeaderSize + 7) & ~uint64_t(7);
    }
    __atomic_store_n(consumer_, cons, __ATOMIC_RELEASE);
    return size_t(cons - start);
  }

 private:
  static constexpr uint32_t kBusyBit = 1u << 31;
  static constexpr uint32_t kDiscardBit = 1u << 30;
  static constexpr uint32_t kHeaderSize = 8;

  Mapping consumerPage_;
  Mapping producerPages_;  // the producer page, then the data area twice
  Fd wakeups_;
  uint64_t* consumer_ = nullptr;
  const uint64_t* producer_ = nullptr;
  const uint8_t* data_ = nullptr;
  uint64_t mask_ = 0;
  size_t dataSize_ = 0;
};

}  // namespace tapwire
