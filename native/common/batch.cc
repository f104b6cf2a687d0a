#include "batch.h"

namespace tapwire {

BatchBuilder::BatchBuilder(const std::shared_ptr<BufferPool>& pool, uint32_t maxPackets, size_t dataBytes)
    : buf_(pool, size_t(maxPackets) * kMetaWords * 4 + dataBytes + 1), max_(maxPackets), dataEnd_(size_t(maxPackets) * kMetaWords * 4) {}

uint8_t* BatchBuilder::Add(uint32_t caplen, uint32_t wirelen, uint32_t ifindex, uint32_t sec, uint32_t nsec, uint16_t hatype,
                           bool outgoing) {
  if (count_ == max_ || dataEnd_ + caplen > buf_.capacity()) return nullptr;
  uint32_t* m = reinterpret_cast<uint32_t*>(buf_.data()) + size_t(count_) * kMetaWords;
  m[kOffset] = uint32_t(dataEnd_);
  m[kCaplen] = caplen;
  m[kWirelen] = wirelen;
  m[kIfindex] = ifindex;
  m[kTsSec] = sec;
  m[kTsNsec] = nsec;
  m[kLink] = uint32_t(hatype) | (outgoing ? 1u << 16 : 0);
  m[kReserved] = 0;
  uint8_t* out = buf_.data() + dataEnd_;
  dataEnd_ += caplen;
  count_++;
  wireBytes_ += wirelen;
  return out;
}

}  // namespace tapwire
