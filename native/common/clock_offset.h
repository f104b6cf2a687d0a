// BPF programs stamp records with CLOCK_MONOTONIC (bpf_ktime_get_ns); users want wall
// time. The offset between the clocks is sampled per drain, but a sample's error is the
// time between its clock reads, which a busy or emulated machine stretches to tens of
// microseconds: applied as is, it would reorder packets stamped microseconds apart on
// either side of a drain. So the offset moves only when the clocks really moved apart
// (CLOCK_REALTIME stepped, or slewed by more than kTolerance), never by sampling noise.
#pragma once
#include <stdint.h>

namespace tapwire {

class ClockOffset {
 public:
  // CLOCK_REALTIME - CLOCK_MONOTONIC, ns, to add to a monotonic stamp.
  int64_t Now();

 private:
  static constexpr int64_t kTolerance = 1000000;  // 1 ms
  int64_t offset_ = 0;
  bool known_ = false;
};

}  // namespace tapwire
