// The kernel half of the eBPF backend. A filter program generated at run time from the
// user's pcap expression is attached to each interface (tcx) or packet socket, or to a
// cgroup; it tail-calls one of these programs. tw_tc_* run at tcx hooks, tw_sock_* as
// socket filters on a packet socket (kernels without tcx, or a process without
// CAP_NET_ADMIN), tw_cg_* at a cgroup's inet ingress and egress hooks, where the packet
// starts at its IP header.
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../../common/bpf/ring_wakeup.h"
#include "capture.h"
#include "owner_lookup.h"

char LICENSE[] SEC("license") = "GPL";

// Set by user space before load (a power of two): the reader is woken once per this many
// bytes submitted (ring_wakeup.h), and its batch timer collects the rest, so a busy link
// costs one wake-up per this many bytes rather than one per packet.
const volatile __u64 wakeup_bytes = 1 << 20;
// Set by user space before load: each record carries the packet's owners (owner.h,
// found by owner_lookup.h) between its header and its bytes.
const volatile __u32 attribution = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 24); /* resized by user space before load */
} tw_records SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, TAPWIRE_COUNTER_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} tw_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, TAPWIRE_SLOT_COUNT);
  __type(key, __u32);
  __type(value, __u32);
} tw_tc_slots SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, TAPWIRE_SLOT_COUNT);
  __type(key, __u32);
  __type(value, __u32);
} tw_sock_slots SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, TAPWIRE_SLOT_COUNT);
  __type(key, __u32);
  __type(value, __u32);
} tw_cg_slots SEC(".maps");

static __always_inline void count(__u32 which) {
  __u64* c = bpf_map_lookup_elem(&tw_counters, &which);
  if (c) *c += 1; /* per-CPU, and softirq context does not migrate */
}

// Reserves a record of a size fixed at compile time (the ring buffer wants a constant)
// and copies the packet straight from the skb into it: one copy, no scratch buffer.
// `owned` (whether the record carries `owners`) is known at compile time (each caller is
// inlined), so every offset is a constant: a process without CAP_PERFMON may not add a
// register to a pointer.
static __always_inline int emit(struct __sk_buff* skb, __u64 cap, __u32 direction, __u64 now, const int owned,
                                const struct tapwire_owners* owners, const __u32 room) {
  struct tapwire_record* r = bpf_ringbuf_reserve(&tw_records, sizeof(*r) + owned + room, 0);
  if (!r) {
    count(TAPWIRE_COUNTER_RING_DROPS);
    return 0;
  }
  if (cap > room) cap = room;
  // The helper needs a length of at least 1, and verifiers before 6.8 learn nothing
  // from `cap != 0`: bounding cap - 1 from above proves 1 <= cap <= room to all of
  // them (and sends cap == 0, which wraps, to the discard). The barrier keeps clang
  // from folding the test back into `cap == 0`.
  __u64 last = cap - 1;
  asm volatile("" : "+r"(last));
  if (last >= room || bpf_skb_load_bytes(skb, 0, (void*)(r + 1) + owned, last + 1) != 0) {
    bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
    count(TAPWIRE_COUNTER_RING_DROPS);
    return 0;
  }
  cap = last + 1;
  r->monotonic_ns = now;
  r->ifindex = skb->ifindex;
  r->wire_len = skb->len;
  r->cap_len = cap;
  r->direction = direction;
  r->vlan_tpid = skb->vlan_present ? bpf_ntohs(skb->vlan_proto) : 0;
  r->vlan_tci = skb->vlan_tci;
  __builtin_memset(r->reserved, 0, sizeof(r->reserved));
  if (owned) __builtin_memcpy(r + 1, owners, sizeof(*owners));
  bpf_ringbuf_submit(r, ring_wakeup(&tw_records, sizeof(*r) + owned + room, wakeup_bytes));
  return 0;
}

// Record sizes double, so a record wastes less than half its room; small frames, the
// common case at high rates, get the finest steps.
static __always_inline int copy_sized(struct __sk_buff* skb, __u64 cap, __u32 direction, __u64 now, const int owned,
                                      const struct tapwire_owners* owners) {
  if (cap <= TAPWIRE_MIN_ROOM) return emit(skb, cap, direction, now, owned, owners, TAPWIRE_MIN_ROOM);
  if (cap <= 160) return emit(skb, cap, direction, now, owned, owners, 160);
  if (cap <= 256) return emit(skb, cap, direction, now, owned, owners, 256);
  if (cap <= 512) return emit(skb, cap, direction, now, owned, owners, 512);
  if (cap <= 1024) return emit(skb, cap, direction, now, owned, owners, 1024);
  if (cap <= 1536) return emit(skb, cap, direction, now, owned, owners, 1536);
  if (cap <= 2048) return emit(skb, cap, direction, now, owned, owners, 2048);
  if (cap <= 4096) return emit(skb, cap, direction, now, owned, owners, 4096);
  if (cap <= 9216) return emit(skb, cap, direction, now, owned, owners, 9216);
  if (cap <= 16384) return emit(skb, cap, direction, now, owned, owners, 16384);
  if (cap <= 32768) return emit(skb, cap, direction, now, owned, owners, 32768);
  if (cap <= 65536) return emit(skb, cap, direction, now, owned, owners, 65536);
  if (cap <= 131072) return emit(skb, cap, direction, now, owned, owners, 131072);
  return emit(skb, cap, direction, now, owned, owners, 262144);
}

static __always_inline int copy(struct __sk_buff* skb, __u32 snaplen, __u32 direction, const int hook) {
  __u64 cap = skb->len < snaplen ? skb->len : snaplen;
  __u64 now = bpf_ktime_get_ns();
  // Read-only data: the verifier follows one of the two and drops the other.
  if (!attribution) return copy_sized(skb, cap, direction, now, 0, 0);
  struct tapwire_owners scratch;
  return copy_sized(skb, cap, direction, now, sizeof(struct tapwire_owners), find_owners(skb, direction, hook, now, &scratch));
}

SEC("tc")
int tw_tc_copy(struct __sk_buff* skb) {
  copy(skb, skb->cb[TAPWIRE_CB_SNAPLEN], skb->cb[TAPWIRE_CB_DIRECTION], HOOK_TC);
  return TAPWIRE_TCX_NEXT;
}

SEC("tc")
int tw_tc_reject(struct __sk_buff* skb) {
  count(TAPWIRE_COUNTER_FILTERED);
  return TAPWIRE_TCX_NEXT;
}

// Socket filters return how much of the packet to queue on the socket: nothing, since
// the ring buffer already has it.
SEC("socket")
int tw_sock_copy(struct __sk_buff* skb) {
  copy(skb, skb->cb[TAPWIRE_CB_SNAPLEN], skb->pkt_type == PACKET_OUTGOING, HOOK_SOCKET);
  return 0;
}

SEC("socket")
int tw_sock_reject(struct __sk_buff* skb) {
  count(TAPWIRE_COUNTER_FILTERED);
  return 0;
}

// A cgroup program's verdict is the packet's fate: 1 lets every packet through.
SEC("cgroup/skb")
int tw_cg_copy(struct __sk_buff* skb) {
  copy(skb, skb->cb[TAPWIRE_CB_SNAPLEN], skb->cb[TAPWIRE_CB_DIRECTION], HOOK_CGROUP);
  return 1;
}

SEC("cgroup/skb")
int tw_cg_reject(struct __sk_buff* skb) {
  count(TAPWIRE_COUNTER_FILTERED);
  return 1;
}
