// 802.1Q tags the kernel moved out of an Ethernet frame into metadata, put back where
// they were, after the two MAC addresses, as libpcap puts them back for tcpdump: the
// frame then reads as it was sent, and so does a filter run on it later. The captured
// length grows by the tag, up to the snapshot length (libpcap's order: insert, then
// cut), and the length on the wire by the tag.
#pragma once
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <stdint.h>
#include <string.h>

namespace tapwire {

constexpr uint32_t kVlanTagLength = 4;
constexpr uint32_t kMacAddressesLength = 12;

// A tag found in metadata: its TPID (0x8100 unless the kernel says otherwise) and TCI.
struct VlanTag {
  uint16_t tpid = 0;  // 0: no tag in metadata
  uint16_t tci = 0;

  // Whether a frame of this hardware type and captured length gets the tag back.
  bool AppliesTo(bool ethernet, uint32_t caplen) const { return tpid != 0 && ethernet && caplen >= kMacAddressesLength; }

  void Write(uint8_t* at) const {
    uint16_t tag[2] = {htons(tpid), htons(tci)};
    memcpy(at, tag, sizeof(tag));
  }

  // The captured length once the tag is back in a frame `caplen` bytes long.
  static uint32_t TaggedCaplen(uint32_t caplen, uint32_t snaplen) {
    return caplen + kVlanTagLength < snaplen ? caplen + kVlanTagLength : snaplen;
  }

  // Copies the frame into `out` with the tag in place, `tagged` bytes in all
  // (TaggedCaplen of the frame's captured length: under 16 with a snapshot that short).
  void CopyTagged(uint8_t* out, const uint8_t* frame, uint32_t tagged) const {
    uint8_t head[kMacAddressesLength + kVlanTagLength];
    memcpy(head, frame, kMacAddressesLength);
    Write(head + kMacAddressesLength);
    memcpy(out, head, tagged < sizeof(head) ? tagged : sizeof(head));
    if (tagged > sizeof(head)) memcpy(out + sizeof(head), frame + kMacAddressesLength, tagged - sizeof(head));
  }
};

}  // namespace tapwire
