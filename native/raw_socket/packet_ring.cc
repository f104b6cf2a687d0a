#include "packet_ring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/batch.h"
#include "../common/errors.h"
#include "../common/options.h"
#include "../common/packet_socket.h"

namespace tapwire {

namespace {

constexpr uint32_t kFrameSize = 2048;  // only a unit of ring accounting in TPACKET_V3
constexpr uint32_t kVlanTagLength = 4;
constexpr uint32_t kMacAddressesLength = 12;

int AttachClassicFilter(int fd, const Napi::Buffer<uint8_t>& code) {
  size_t count = code.Length() / sizeof(struct sock_filter);
  // sock_fprog counts in 16 bits: a longer program would be cut, not refused.
  if (count > USHRT_MAX) {
    errno = EINVAL;
    return -1;
  }
  struct sock_fprog prog;
  prog.len = static_cast<unsigned short>(count);
  prog.filter = reinterpret_cast<struct sock_filter*>(code.Data());
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

}  // namespace

Napi::Function PacketRing::Init(Napi::Env env) { return Define(env, "PacketRing"); }

// new PacketRing({ ifindex, filter, blockSize, blockCount, blockTimeoutMs, promiscuous },
//                onBatch(arrayBuffer, count, wireBytes))
PacketRing::PacketRing(const Napi::CallbackInfo& info) : KernelSource(info, "tapwire:PacketRing") {
  Open(info.Env(), info[0].As<Napi::Object>());
}

PacketRing::~PacketRing() { Release(); }

// The order is what makes "no unfiltered packet ever reaches the user" hold: the socket
// receives nothing until it is bound, and by then the filter and the ring are in place.
void PacketRing::Open(Napi::Env env, const Napi::Object& options) {
  uint32_t ifindex = UintOption(options, "ifindex");
  blockSize_ = UintOption(options, "blockSize");
  blockCount_ = UintOption(options, "blockCount");

  fd_ = OpenPacketSocket(env, SOCK_NONBLOCK);

  int version = TPACKET_V3;
  if (setsockopt(fd_.get(), SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) != 0)
    throw SystemError(env, "setsockopt(PACKET_VERSION)", errno);

  if (AttachClassicFilter(fd_.get(), options.Get("filter").As<Napi::Buffer<uint8_t>>()) != 0)
    throw SystemError(env, "setsockopt(SO_ATTACH_FILTER)", errno, "EFILTER");

  struct tpacket_req3 req;
  memset(&req, 0, sizeof(req));
  req.tp_block_size = blockSize_;
  req.tp_block_nr = blockCount_;
  req.tp_frame_size = kFrameSize;
  req.tp_frame_nr = (blockSize_ / kFrameSize) * blockCount_;
  req.tp_retire_blk_tov = UintOption(options, "blockTimeoutMs");
  if (setsockopt(fd_.get(), SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0)
    throw SystemError(env, "setsockopt(PACKET_RX_RING)", errno);

  ring_ = Mapping::Map(fd_.get(), size_t(blockSize_) * blockCount_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, 0);
  if (!ring_) throw SystemError(env, "mmap", errno);

  BindPacketSocket(env, fd_.get(), ifindex);
  if (options.Get("promiscuous").ToBoolean()) AddPromiscuous(env, fd_.get(), ifindex);

  delivery_.Watch(fd_.get());
}

void PacketRing::Drain() {
  while (fd_ && delivery_.wanted()) {
    uint8_t* base = ring_.data() + size_t(nextBlock_) * blockSize_;
    auto* block = reinterpret_cast<struct tpacket_block_desc*>(base);
    struct tpacket_hdr_v1& bh = block->hdr.bh1;
    if ((__atomic_load_n(&bh.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) break;

    uint32_t count = bh.num_pkts;
    uint32_t used = bh.blk_len < blockSize_ ? bh.blk_len : blockSize_;
    uint32_t room = count < blockSize_ / sizeof(struct tpacket3_hdr) ? count : blockSize_ / sizeof(struct tpacket3_hdr);
    BatchBuilder batch(delivery_.buffers(), room, used + size_t(room) * kVlanTagLength);
    // Every offset and length the kernel wrote is checked against the block before
    // anything is read through it; packets past one that fails are counted as lost.
    auto inBlock = [this](uint64_t offset, uint64_t length) { return offset <= blockSize_ && length <= blockSize_ - offset; };
    uint64_t at = bh.offset_to_first_pkt;
    uint32_t i = 0;
    for (; batch.ok() && i < count; i++) {
      if (!inBlock(at, TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) + sizeof(struct sockaddr_ll))) break;
      const auto* hdr = reinterpret_cast<const struct tpacket3_hdr*>(base + at);
      const auto* sll = reinterpret_cast<const struct sockaddr_ll*>(base + at + TPACKET_ALIGN(sizeof(*hdr)));
      if (!inBlock(at + hdr->tp_mac, hdr->tp_snaplen)) break;
      const uint8_t* frame = base + at + hdr->tp_mac;
      // The kernel strips 802.1Q tags into metadata; put the tag back where it was
      // so users (and filters run on the data later) see the frame as sent.
      bool vlan = (hdr->tp_status & TP_STATUS_VLAN_VALID) && sll->sll_hatype == ARPHRD_ETHER && hdr->tp_snaplen >= kMacAddressesLength;
      uint32_t extra = vlan ? kVlanTagLength : 0;
      uint8_t* out = batch.Add(hdr->tp_snaplen + extra, hdr->tp_len + extra, uint32_t(sll->sll_ifindex), hdr->tp_sec, hdr->tp_nsec,
                               sll->sll_hatype, sll->sll_pkttype == PACKET_OUTGOING);
      if (!out) {
        userDrops_++;
      } else if (vlan) {
        uint16_t tpid = (hdr->tp_status & TP_STATUS_VLAN_TPID_VALID) ? hdr->hv1.tp_vlan_tpid : uint16_t(ETH_P_8021Q);
        uint16_t tag[2] = {htons(tpid), htons(uint16_t(hdr->hv1.tp_vlan_tci))};
        memcpy(out, frame, kMacAddressesLength);
        memcpy(out + kMacAddressesLength, tag, sizeof(tag));
        memcpy(out + kMacAddressesLength + kVlanTagLength, frame + kMacAddressesLength, hdr->tp_snaplen - kMacAddressesLength);
      } else {
        memcpy(out, frame, hdr->tp_snaplen);
      }
      at += hdr->tp_next_offset;
    }
    userDrops_ += count - i;
    __atomic_store_n(&bh.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    nextBlock_ = (nextBlock_ + 1) % blockCount_;
    if (batch.ok()) delivery_.Hand(batch);
  }
}

// From here on the socket accepts nothing; the block being filled is retired by the
// kernel's block timer, so a later flush() hands over everything captured until now.
void PacketRing::Detach(Napi::Env env) {
  struct sock_filter rejectAll = BPF_STMT(BPF_RET | BPF_K, 0);
  struct sock_fprog prog = {1, &rejectAll};
  if (setsockopt(fd_.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0)
    throw SystemError(env, "setsockopt(SO_ATTACH_FILTER)", errno);
}

// PACKET_STATISTICS resets the kernel's counters on every read: keep the running sum.
void PacketRing::ReadCounters() {
  struct tpacket_stats_v3 st;
  socklen_t len = sizeof(st);
  if (getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) kernelDrops_ += st.tp_drops;
}

void PacketRing::PutStats(Napi::Env env, Napi::Object& out) {
  out.Set("kernelDrops", Napi::Number::New(env, double(kernelDrops_)));
  out.Set("userspaceDrops", Napi::Number::New(env, double(userDrops_)));
}

void PacketRing::Release() {
  delivery_.Close();
  ring_.reset();
  fd_.reset();
}

}  // namespace tapwire
