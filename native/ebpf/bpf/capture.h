/* Shared by the BPF programs (capture.bpf.c) and the C++ that loads and reads them. */
#ifndef TAPWIRE_CAPTURE_H
#define TAPWIRE_CAPTURE_H

/* The filter program, generated at run time from the pcap filter (filter_program.cc),
 * is what the kernel runs first. It ends in a tail call through the program array:
 * to COPY with the snap length in cb[CB_SNAPLEN], or to REJECT. */
enum tapwire_prog_slot {
  TAPWIRE_SLOT_COPY = 0,
  TAPWIRE_SLOT_REJECT = 1,
  TAPWIRE_SLOT_COUNT = 2,
};

/* __sk_buff cb[] words the filter program writes for the programs it calls. */
enum tapwire_cb_word {
  TAPWIRE_CB_SNAPLEN = 0,
  TAPWIRE_CB_DIRECTION = 1, /* tc only: 0 ingress, 1 egress */
};

/* Per-CPU counters, summed by user space. */
enum tapwire_counter {
  TAPWIRE_COUNTER_FILTERED = 0,
  TAPWIRE_COUNTER_RING_DROPS = 1,
  TAPWIRE_COUNTER_COUNT = 2,
};

/* tcx (Linux 6.6+): the attach types, newer than some build hosts' uapi headers, and
 * the verdict that hands the packet on untouched. */
#define TAPWIRE_TCX_INGRESS 46
#define TAPWIRE_TCX_EGRESS 47
#define TAPWIRE_TCX_NEXT -1

/* The smallest room a record reserves for packet bytes (user space sizes batches by it). */
#define TAPWIRE_MIN_ROOM 96

/* One ring buffer record: this header, then caplen bytes from the link-layer header. */
struct tapwire_record {
  __u64 monotonic_ns;
  __u32 ifindex;
  __u32 wire_len;
  __u32 cap_len;
  __u16 direction; /* 0 in, 1 out */
  /* An 802.1Q tag the kernel holds in the skb's metadata, not in the bytes: its TPID
   * (0: no tag) and TCI. User space puts it back into an Ethernet frame. */
  __u16 vlan_tpid;
  __u16 vlan_tci;
  __u16 reserved[3];
};

#endif
