/* The owners of a packet, for the capture programs (capture.bpf.c) of a capture that
 * attributes packets: from the socket the packet carries, else by looking up the socket
 * its addresses and ports lead to, through a per-CPU cache of flows. BPF only. */
#ifndef TAPWIRE_OWNER_LOOKUP_H
#define TAPWIRE_OWNER_LOOKUP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "owner.h"

// Where a program runs, which decides how it finds a packet's socket.
enum hook { HOOK_TC, HOOK_SOCKET, HOOK_CGROUP };

// The owner a socket's storage names; else the socket's cgroup alone, where the caller
// knows it (`cgroup_id`, 0 if not).
static __always_inline int owner_of(struct bpf_sock* sk, __u64 cgroup_id, struct tapwire_owner* out) {
  if (!sk) return 0;
  struct tapwire_owner* o = bpf_sk_storage_get(&tw_owners, sk, 0, 0);
  if (o && o->tgid != 0) {
    out->tgid = o->tgid;
    out->cgroup_id = o->cgroup_id;
    __builtin_memcpy(out->comm, o->comm, sizeof(out->comm));
    out->method = TAPWIRE_ATTRIBUTION_SOCKET;
  } else if (cgroup_id != 0) {
    out->cgroup_id = cgroup_id;
    out->method = TAPWIRE_ATTRIBUTION_CGROUP;
  }
  return 1;
}

// Owners found by lookup, per CPU, by flow and interface: a run of one flow's packets
// pays for its socket lookups (one, or on loopback two: both ends) once per FLOW_TTL_NS
// rather than per packet (and a packet no socket owns, for one miss). A slot holds one
// flow; another flow hashed to it takes it over. Each capture has its own (its
// interfaces share one network namespace).
#define FLOW_SLOTS 64
#define FLOW_TTL_NS 10000000ULL /* 10 ms: how long an owner change can take to show */
// What names a flow; an IPv4 key's tuple ends in its first 24 bytes (the rest zero),
// which alone are hashed. Read as 8-byte words: aligned for them.
struct __attribute__((aligned(8))) flow_key {
  __u32 ifindex; /* a capture's interfaces are in one namespace: this names the interface there */
  __u32 proto;   /* | FLOW_V6 for IPv6, so no IPv4 key's first 24 bytes are an IPv6 key's */
  struct bpf_sock_tuple tuple;
  __u32 pad;
};
#define FLOW_V4_BYTES 24
#define FLOW_V6 0x100
struct flow_owners {
  struct flow_key key;
  __u64 expires;
  struct tapwire_owners owners;
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, FLOW_SLOTS);
  __type(key, __u32);
  __type(value, struct flow_owners);
} tw_flow_owners SEC(".maps");

// The hash `h` of the key's words before `from` carried on over those up to `to` (byte
// offsets, multiples of 4 known at compile time, so each loop unrolls into constant
// stack offsets: a process without CAP_PERFMON may not add a register to the stack
// pointer, also on the paths a verifier walks for mispredicted branches).
static __always_inline __u32 flow_hash(const struct flow_key* k, const int from, const int to, __u32 h) {
  const __u32* w = (const __u32*)k;
#pragma unroll
  for (int i = from / 4; i < to / 4; i++) h = (h ^ w[i]) * 0x9e3779b1;
  return h;
}

static __always_inline int same_flow(const struct flow_key* a, const struct flow_key* b) {
  const __u64* x = (const __u64*)a;
  const __u64* y = (const __u64*)b;
  __u64 diff = 0;
#pragma unroll
  for (int i = 0; i < sizeof(*a) / 8; i++) diff |= x[i] ^ y[i];
  return diff == 0;
}

// `out`: `in` with its ends swapped (the same flow, seen from the other end).
static __always_inline void reverse_key(const struct flow_key* in, struct flow_key* out) {
  out->ifindex = in->ifindex;
  out->proto = in->proto;
  if (in->proto & FLOW_V6) {
    __builtin_memcpy(out->tuple.ipv6.saddr, in->tuple.ipv6.daddr, 16);
    __builtin_memcpy(out->tuple.ipv6.daddr, in->tuple.ipv6.saddr, 16);
    out->tuple.ipv6.sport = in->tuple.ipv6.dport;
    out->tuple.ipv6.dport = in->tuple.ipv6.sport;
  } else {
    out->tuple.ipv4.saddr = in->tuple.ipv4.daddr;
    out->tuple.ipv4.daddr = in->tuple.ipv4.saddr;
    out->tuple.ipv4.sport = in->tuple.ipv4.dport;
    out->tuple.ipv4.dport = in->tuple.ipv4.sport;
  }
}

// The flow key of a TCP or UDP packet as it travels (the tuple's source is the packet's),
// from one load of its IP header and the ports after it (a second only for IPv4
// options). 0 for other packets, and later IPv4 fragments (no ports).
static __always_inline int packet_flow(struct __sk_buff* skb, struct flow_key* key) {
  __u8 proto;
  if (skb->protocol == bpf_htons(ETH_P_IP)) {
    struct {
      struct iphdr ip;
      __be16 ports[2];
    } h;
    if (bpf_skb_load_bytes_relative(skb, 0, &h, sizeof(h), BPF_HDR_START_NET)) return 0;
    if (h.ip.frag_off & bpf_htons(0x1fff)) return 0;
    if (h.ip.ihl != 5 && bpf_skb_load_bytes_relative(skb, (h.ip.ihl * 4) & 0x3f, h.ports, sizeof(h.ports), BPF_HDR_START_NET)) return 0;
    proto = h.ip.protocol;
    key->tuple.ipv4.saddr = h.ip.saddr;
    key->tuple.ipv4.daddr = h.ip.daddr;
    key->tuple.ipv4.sport = h.ports[0];
    key->tuple.ipv4.dport = h.ports[1];
    key->proto = proto;
  } else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
    struct {
      struct ipv6hdr ip6;
      __be16 ports[2];
    } h;
    if (bpf_skb_load_bytes_relative(skb, 0, &h, sizeof(h), BPF_HDR_START_NET)) return 0;
    proto = h.ip6.nexthdr; /* extension headers are not followed */
    __builtin_memcpy(key->tuple.ipv6.saddr, &h.ip6.saddr, 16);
    __builtin_memcpy(key->tuple.ipv6.daddr, &h.ip6.daddr, 16);
    key->tuple.ipv6.sport = h.ports[0];
    key->tuple.ipv6.dport = h.ports[1];
    key->proto = proto | FLOW_V6;
  } else {
    return 0;
  }
  return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

// A tuple's socket, found as the stack would find it in the interface's network
// namespace, and the owner recorded for it.
static __always_inline void lookup_owner(struct __sk_buff* skb, int tcp, struct bpf_sock_tuple* tuple, __u32 size,
                                         struct tapwire_owner* out) {
  struct bpf_sock* sk =
      tcp ? bpf_sk_lookup_tcp(skb, tuple, size, BPF_F_CURRENT_NETNS, 0) : bpf_sk_lookup_udp(skb, tuple, size, BPF_F_CURRENT_NETNS, 0);
  if (!sk) return;
  owner_of(sk, 0, out); /* tc has no helper for a looked-up socket's cgroup */
  if (out->method == TAPWIRE_ATTRIBUTION_SOCKET) out->method = TAPWIRE_ATTRIBUTION_TUPLE;
  bpf_sk_release(sk);
}

static __always_inline __u32 slot_of(const struct flow_key* key) {
  // IPv4 keys end where their tuple does: the rest is zero in both.
  __u32 h = flow_hash(key, 0, FLOW_V4_BYTES, 0);
  if (key->proto & FLOW_V6) h = flow_hash(key, FLOW_V4_BYTES, sizeof(*key), h);
  return h >> 26; /* FLOW_SLOTS = 2^6 */
}

static __always_inline int fresh(const struct flow_owners* cached, const struct flow_key* key, __u64 now) {
  return cached->expires > now && same_flow(&cached->key, key);
}

// The owners of a flow's local socket, by lookup: `key` as that socket sees the flow
// (its tuple's source is the remote end); with `both` (loopback, hooked as packets
// arrive) the other end's too, which is local as well. They are the flow's cache
// slot's, filled in on a miss; null if there is no slot.
static __always_inline const struct tapwire_owners* lookup_owners(struct __sk_buff* skb, struct flow_key* key, int both, __u64 now) {
  __u32 slot = slot_of(key);
  struct flow_owners* cached = bpf_map_lookup_elem(&tw_flow_owners, &slot);
  if (!cached) return 0;
  if (fresh(cached, key, now)) return &cached->owners;
  struct tapwire_owners* out = &cached->owners;
  int v6 = key->proto & FLOW_V6;
  __u32 size = v6 ? sizeof(key->tuple.ipv6) : sizeof(key->tuple.ipv4);
  int tcp = (key->proto & 0xff) == IPPROTO_TCP;
  __u64 expires = now + FLOW_TTL_NS;
  if (both) {
    struct flow_key other;
    __builtin_memset(&other, 0, sizeof(other)); /* whole and kept, as above */
    asm volatile("" : : "r"(&other) : "memory");
    reverse_key(key, &other);
    // The packets going the other way name the same two sockets, the other way round:
    // where this CPU has them, no lookup (and the sockets a lookup may no longer find
    // as a connection closes stay named as long as that entry lives).
    __u32 back = slot_of(&other);
    struct flow_owners* reverse = back != slot ? bpf_map_lookup_elem(&tw_flow_owners, &back) : 0;
    if (reverse && fresh(reverse, &other, now)) {
      out->local = reverse->owners.peer;
      out->peer = reverse->owners.local;
      expires = reverse->expires;
    } else {
      __builtin_memset(out, 0, sizeof(*out));
      lookup_owner(skb, tcp, &key->tuple, size, &out->local);
      lookup_owner(skb, tcp, &other.tuple, size, &out->peer);
    }
  } else {
    __builtin_memset(out, 0, sizeof(*out));
    lookup_owner(skb, tcp, &key->tuple, size, &out->local);
  }
  cached->key = *key;
  cached->expires = expires;
  return out;
}

// The packet's owners: the local one from the socket the packet carries (what a socket
// sends, at tc egress; everything, at a cgroup's hooks), written into `scratch`; else
// by lookup (tc), the flow cache's; on loopback (index 1 in every namespace, hooked at
// ingress only) the sender too, which is local as well. `scratch` zeroed if neither.
static __always_inline const struct tapwire_owners* find_owners(struct __sk_buff* skb, __u32 direction, const int hook, __u64 now,
                                                                struct tapwire_owners* scratch) {
  // What arrives at tc may still hold its sender's socket (veth keeps it across
  // namespaces): only what leaves carries its own. A socket filter has neither the
  // socket nor the helpers.
  struct bpf_sock* sk = hook == HOOK_CGROUP || (hook == HOOK_TC && direction == 1) ? skb->sk : 0;
  if (sk) sk = bpf_sk_fullsock(sk);
  if (!sk && hook == HOOK_TC) {
    // The socket the flow's local end is, as it sees the flow: for what arrives (0) the
    // packet's destination, for what leaves (a listener's SYN-ACK, say, whose skb holds
    // no full socket) its source.
    // Zeroed whole, and kept so (the barrier): clang drops the stores that no real path
    // reads, but a verifier walking a mispredicted branch (no CAP_PERFMON, before 6.16 or
    // so: Debian's 6.12) hashes the key where packet_flow() filled none or less of it,
    // and refuses to read uninitialized stack.
    struct flow_key key;
    __builtin_memset(&key, 0, sizeof(key));
    asm volatile("" : : "r"(&key) : "memory");
    key.ifindex = skb->ifindex;
    if (packet_flow(skb, &key)) {
      if (direction) {
        struct flow_key sent = key;
        reverse_key(&sent, &key);
      }
      const struct tapwire_owners* found = lookup_owners(skb, &key, key.ifindex == 1, now);
      if (found) return found;
    }
  }
  __builtin_memset(scratch, 0, sizeof(*scratch));
  owner_of(sk, sk ? bpf_skb_cgroup_id(skb) : 0, &scratch->local);
  return scratch;
}

#endif
