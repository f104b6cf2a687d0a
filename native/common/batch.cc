#include "batch.h"

#include <stdlib.h>

namespace tapwire {

namespace {

constexpr size_t kMaxSpareBytes = 128u << 20;
constexpr size_t kMaxSpares = 96;
constexpr size_t kGranule = 64u << 10;

// What a batch's ArrayBuffer finalizer needs to give its memory back.
struct Lease {
  std::shared_ptr<BufferPool> pool;
  size_t capacity;
};

}  // namespace

BufferPool::~BufferPool() {
  for (const Spare& s : spares_) free(s.data);
}

uint8_t* BufferPool::Acquire(size_t size, size_t* capacity) {
  size_t best = spares_.size();
  for (size_t i = 0; i < spares_.size(); i++) {
    if (spares_[i].capacity >= size && (best == spares_.size() || spares_[i].capacity < spares_[best].capacity)) best = i;
  }
  if (best < spares_.size()) {
    Spare s = spares_[best];
    spares_[best] = spares_.back();
    spares_.pop_back();
    spareBytes_ -= s.capacity;
    *capacity = s.capacity;
    return s.data;
  }
  // Powers of two, so a spare of the common size fits most requests.
  size_t c = kGranule;
  while (c < size) c *= 2;
  *capacity = c;
  return static_cast<uint8_t*>(malloc(c));
}

void BufferPool::Recycle(uint8_t* data, size_t capacity) {
  if (spares_.size() < kMaxSpares && spareBytes_ + capacity <= kMaxSpareBytes) {
    spares_.push_back({data, capacity});
    spareBytes_ += capacity;
  } else {
    free(data);
  }
}

BatchBuilder::BatchBuilder(const std::shared_ptr<BufferPool>& pool, uint32_t maxPackets, size_t dataBytes)
    : pool_(pool), max_(maxPackets) {
  dataEnd_ = size_t(maxPackets) * kMetaWords * 4;
  buf_ = pool_->Acquire(dataEnd_ + dataBytes + 1, &capacity_);
}

BatchBuilder::~BatchBuilder() {
  if (buf_) pool_->Recycle(buf_, capacity_);
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

napi_status BatchBuilder::Finish(napi_env env, napi_value* result) {
  auto* lease = new Lease{pool_, capacity_};
  napi_status status = napi_create_external_arraybuffer(
      env, buf_, dataEnd_,
      [](napi_env, void* data, void* hint) {
        auto* lease = static_cast<Lease*>(hint);
        lease->pool->Recycle(static_cast<uint8_t*>(data), lease->capacity);
        delete lease;
      },
      lease, result);
  if (status == napi_ok) {
    buf_ = nullptr;
  } else {
    delete lease;
  }
  return status;
}

}  // namespace tapwire
