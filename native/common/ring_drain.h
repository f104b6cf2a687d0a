// The one drain loop of the BPF ring buffers (eBPF capture and TLS): what was in the
// ring when the reader was woken goes to JavaScript in batches of at most batchBytes of
// ring, each built in a pooled buffer and handed over through Delivery.
#pragma once
#include <napi.h>
#include <sched.h>
#include <stddef.h>

#include "delivery.h"
#include "errors.h"
#include "ring_reader.h"

namespace tapwire {

class RingDrain {
 public:
  // Maps the ring buffer map `mapFd` and has `delivery` drain it on the programs'
  // wake-ups and every `intervalMs`. Throws on failure.
  void Open(Napi::Env env, Delivery& delivery, int mapFd, size_t ringSize, size_t batchBytes, unsigned intervalMs) {
    if (int err = ring_.Map(mapFd, ringSize)) throw SystemError(env, "mapping the ring buffer", err);
    batchBytes_ = batchBytes;
    delivery.Watch(ring_.wakeups());
    delivery.SetInterval(intervalMs);
  }
  void Close() { ring_.Unmap(); }

  // After the programs are unhooked, a record still being written is finished within
  // microseconds by a program that already started: the drain waits for it then, so a
  // flush hands over every record.
  void SetDetached(bool detached) {
    detached_ = detached;
    busyWaits_ = 0;
  }

  // Calls fill(ring, take) for each batch, which consumes up to `take` bytes of ring
  // into a batch, hands it to `delivery` and returns the bytes consumed. Records that
  // arrive meanwhile wait for the next wake-up or tick rather than being chased one
  // small batch at a time.
  template <typename Fill>
  void Drain(Delivery& delivery, Fill fill) {
    ring_.TakeWakeups();
    size_t budget = ring_.Pending();
    while (budget > 0 && delivery.wanted()) {
      size_t take = budget < batchBytes_ ? budget : batchBytes_;
      size_t consumed = fill(ring_, take);
      budget -= consumed < budget ? consumed : budget;
      if (consumed < take) {
        if (!detached_ || ++busyWaits_ > kMaxBusyWaits) break;
        sched_yield();
        budget = ring_.Pending();
      }
    }
  }

 private:
  static constexpr int kMaxBusyWaits = 10000;

  RingReader ring_;
  size_t batchBytes_ = 0;
  bool detached_ = false;
  int busyWaits_ = 0;
};

}  // namespace tapwire
