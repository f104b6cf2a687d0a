#include "clock_offset.h"

#include <time.h>

namespace tapwire {

namespace {

int64_t Ns(const struct timespec& t) { return int64_t(t.tv_sec) * 1000000000LL + t.tv_nsec; }

}  // namespace

int64_t ClockOffset::Now() {
  // The best of three reads of CLOCK_REALTIME between two of CLOCK_MONOTONIC: the
  // narrowest bracket has the smallest error.
  int64_t best = 0, bestWidth = INT64_MAX;
  for (int i = 0; i < 3; i++) {
    struct timespec before, real, after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &after);
    int64_t width = Ns(after) - Ns(before);
    if (width < bestWidth) {
      bestWidth = width;
      best = Ns(real) - (Ns(before) + width / 2);
    }
  }
  int64_t moved = best - offset_;
  if (!known_ || moved > kTolerance + bestWidth || moved < -kTolerance - bestWidth) {
    offset_ = best;
    known_ = true;
  }
  return offset_;
}

}  // namespace tapwire
