/* Who owns a socket: recorded by owners.bpf.c, read by capture.bpf.c into each record
 * when the capture attributes packets, and by the C++ that reads the records. */
#ifndef TAPWIRE_OWNER_H
#define TAPWIRE_OWNER_H

/* How a packet's owner was found; in each record after the header. */
enum tapwire_attribution {
  TAPWIRE_ATTRIBUTION_NONE = 0,   /* no socket: the owner is unknown */
  TAPWIRE_ATTRIBUTION_SOCKET = 1, /* the packet's socket, whose owner was recorded */
  TAPWIRE_ATTRIBUTION_TUPLE = 2,  /* the socket its addresses and ports lead to, whose owner was recorded */
  TAPWIRE_ATTRIBUTION_CGROUP = 3, /* the packet's socket, whose owner was not: its cgroup only */
};

/* The owner of a socket (socket-local storage), and of a packet (in its record). */
struct tapwire_owner {
  __u64 cgroup_id;
  __u32 tgid;
  __u32 method; /* enum tapwire_attribution, in records; 0 in storage */
  char comm[16];
};

/* What a record carries when the capture attributes packets: the socket the packet
 * belongs to here (its sender when it leaves, its receiver when it arrives), and on
 * loopback, where both ends are local, the other end. */
struct tapwire_owners {
  struct tapwire_owner local;
  struct tapwire_owner peer;
};

#ifdef __BPF__
/* Socket-local storage: freed with the socket, and copied to the sockets a listener
 * accepts (BPF_F_CLONE), which are born in the kernel and pass no hook of ours. */
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
  __type(key, int);
  __type(value, struct tapwire_owner);
} tw_owners SEC(".maps");
#endif

#endif
