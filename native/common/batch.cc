#include "batch.h"

namespace tapwire {

BatchBuilder::BatchBuilder(const std::shared_ptr<BufferPool>& pool, uint32_t maxPackets, size_t dataBytes)
    : buf_(pool, size_t(maxPackets) * kMetaWords * 4 + dataBytes + 1), max_(maxPackets), dataEnd_(size_t(maxPackets) * kMetaWords * 4) {}

}  // namespace tapwire
