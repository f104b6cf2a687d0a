#include "batch.h"

#include <stdlib.h>

#include <vector>

namespace tapwire {

namespace {

// Batches come and go at thousands per second; fresh memory for each would be paid in
// page faults on every packet copied into it. Buffers JavaScript has let go of wait
// here for the next batch. Only the JS thread touches the pool: Node runs external
// buffers' finalizers there.
struct Spare {
  uint8_t* data;
  size_t capacity;
};
std::vector<Spare> spares;
size_t spareBytes = 0;
constexpr size_t kMaxSpareBytes = 128u << 20;
constexpr size_t kMaxSpares = 96;
constexpr size_t kGranule = 64u << 10;

uint8_t* Acquire(size_t size, size_t* capacity) {
  size_t best = spares.size();
  for (size_t i = 0; i < spares.size(); i++) {
    if (spares[i].capacity >= size && (best == spares.size() || spares[i].capacity < spares[best].capacity)) best = i;
  }
  if (best < spares.size()) {
    Spare s = spares[best];
    spares[best] = spares.back();
    spares.pop_back();
    spareBytes -= s.capacity;
    *capacity = s.capacity;
    return s.data;
  }
  // Powers of two, so a spare of the common size fits most requests.
  size_t c = kGranule;
  while (c < size) c *= 2;
  *capacity = c;
  return static_cast<uint8_t*>(malloc(c));
}

void Recycle(uint8_t* data, size_t capacity) {
  if (spares.size() < kMaxSpares && spareBytes + capacity <= kMaxSpareBytes) {
    spares.push_back({data, capacity});
    spareBytes += capacity;
  } else {
    free(data);
  }
}

}  // namespace

BatchBuilder::BatchBuilder(uint32_t maxPackets, size_t dataBytes) : max_(maxPackets) {
  dataEnd_ = size_t(maxPackets) * kMetaWords * 4;
  buf_ = Acquire(dataEnd_ + dataBytes + 1, &capacity_);
}

BatchBuilder::~BatchBuilder() {
  if (buf_) Recycle(buf_, capacity_);
}

uint8_t* BatchBuilder::Add(uint32_t caplen, uint32_t wirelen, uint32_t ifindex,
                           uint32_t sec, uint32_t nsec, uint16_t hatype, bool outgoing) {
  if (count_ == max_ || dataEnd_ + caplen > capacity_) return nullptr;
  uint32_t* m = reinterpret_cast<uint32_t*>(buf_) + size_t(count_) * kMetaWords;
  m[kOffset] = uint32_t(dataEnd_);
  m[kCaplen] = caplen;
  m[kWirelen] = wirelen;
  m[kIfindex] = ifindex;
  m[kTsSec] = sec;
  m[kTsNsec] = nsec;
  m[kLink] = uint32_t(hatype) | (outgoing ? 1u << 16 : 0);
  m[kReserved] = 0;
  uint8_t* out = buf_ + dataEnd_;
  dataEnd_ += caplen;
  count_++;
  wireBytes_ += wirelen;
  return out;
}

Napi::ArrayBuffer BatchBuilder::Finish(Napi::Env env) {
  uint8_t* buf = buf_;
  buf_ = nullptr;
  return Napi::ArrayBuffer::New(
      env, buf, dataEnd_,
      [](Napi::Env, void* data, size_t* capacity) {
        Recycle(static_cast<uint8_t*>(data), *capacity);
        delete capacity;
      },
      new size_t(capacity_));
}

}  // namespace tapwire
