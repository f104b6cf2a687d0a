#include "batch.h"

namespace tapwire {

BatchBuilder::BatchBuilder(const std::shared_ptr<BufferPool>& pool, uint32_t maxPackets, size_t dataBytes, bool owned)
    : buf_(pool, size_t(maxPackets) * (kMetaWords * 4 + (owned ? kOwnerBytes : 0)) + dataBytes + 1),
      max_(maxPackets),
      ownersAt_(owned ? size_t(maxPackets) * kMetaWords * 4 : 0),
      dataEnd_(size_t(maxPackets) * (kMetaWords * 4 + (owned ? kOwnerBytes : 0))) {}

}  // namespace tapwire
