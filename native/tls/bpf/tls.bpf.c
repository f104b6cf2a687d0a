// TLS plaintext from OpenSSL callers: uprobes on SSL_read/SSL_write (and the _ex forms)
// note the buffer at entry; at return, the bytes the call moved are copied into a ring
// buffer in chunks. Attached by file, so processes started later are covered too.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "../../common/bpf/ring_wakeup.h"
#include "tls.h"

char LICENSE[] SEC("license") = "GPL";

// Set by user space before load.
const volatile __u32 self_tgid = 0;  // the capturing process: left out
const volatile __u32 only_listed_pids = 0;
const volatile __u32 only_cgroup = 0;  // only tasks under the cgroup in tw_tls_cgroup[0]
// The reader is woken once per this many bytes submitted (a power of two,
// ring_wakeup.h); its batch timer collects the rest.
const volatile __u64 wakeup_bytes = 1 << 20;
// The file these programs are attached to: one load per file, so no attach cookie is
// needed (bpf_get_attach_cookie is Linux 5.15+). `target` names it to user space,
// `flavor` says which OpenSSL struct layout finds the socket fd.
const volatile __u16 target = 0;
const volatile __u8 flavor = TAPWIRE_TLS_UNKNOWN;

struct call {
  __u64 buf;
  __u64 moved;  // _ex: where the byte count is written
  __u64 ssl;
  __s32 fd;
  __u16 direction;
  __u16 target;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* pid_tgid: one call in flight per thread */
  __type(value, struct call);
} tw_tls_calls SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u8);
} tw_tls_pids SEC(".maps");

// The cgroup v2 a capture is confined to (captureCommand's, or the `cgroup` option's):
// its descendants count as under it. bpf_current_task_under_cgroup is in Linux 4.9+.
struct {
  __uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} tw_tls_cgroup SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 24);
} tw_tls_events SEC(".maps");

// The call being copied at return, handed to copy_chunk() (one per CPU: a program runs
// to its end on the CPU it started on).
struct returning {
  struct call c;
  __u64 id;
  __u64 ts;
  __u64 len;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct returning);
} tw_tls_returning SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, TAPWIRE_TLS_COUNTER_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} tw_tls_counters SEC(".maps");

static __always_inline void add(__u32 which, __u64 n) {
  __u64* c = bpf_map_lookup_elem(&tw_tls_counters, &which);
  if (c) *c += n;
}

// The fd of a socket BIO, read from OpenSSL's private structs where the layout is known:
// SSL.rbio, BIO.method and BIO.num. The BIO's method type confirms the guess.
static __always_inline __s32 socket_fd(__u64 ssl) {
  if (flavor == TAPWIRE_TLS_UNKNOWN) return -1;
  __u64 rbio = 0, method = 0;
  __s32 type = 0, num = -1;
  if (bpf_probe_read_user(&rbio, sizeof(rbio), (void*)(ssl + 16)) || !rbio) return -1;
  __u64 method_at = flavor == TAPWIRE_TLS_OPENSSL_3 ? 8 : 0;
  __u64 num_at = flavor == TAPWIRE_TLS_OPENSSL_3 ? 56 : 48;
  if (bpf_probe_read_user(&method, sizeof(method), (void*)(rbio + method_at)) || !method) return -1;
  if (bpf_probe_read_user(&type, sizeof(type), (void*)method)) return -1;
  if (type != (5 | 0x0400 | 0x0100)) return -1; /* BIO_TYPE_SOCKET */
  if (bpf_probe_read_user(&num, sizeof(num), (void*)(rbio + num_at))) return -1;
  return num;
}

static __always_inline int enter(void* ctx, __u64 ssl, __u64 buf, __u64 moved, __u32 direction) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  if (tgid == self_tgid) return 0;
  if (only_listed_pids && !bpf_map_lookup_elem(&tw_tls_pids, &tgid)) return 0;
  if (only_cgroup && bpf_current_task_under_cgroup(&tw_tls_cgroup, 0) != 1) return 0;
  struct call c = {
      .buf = buf,
      .moved = moved,
      .ssl = ssl,
      .fd = socket_fd(ssl),
      .direction = direction,
      .target = target,
  };
  bpf_map_update_elem(&tw_tls_calls, &id, &c, BPF_ANY);
  return 0;
}

SEC("uprobe")
int BPF_KPROBE(tw_ssl_write, void* ssl, const void* buf) { return enter(ctx, (__u64)ssl, (__u64)buf, 0, 1); }

SEC("uprobe")
int BPF_KPROBE(tw_ssl_write_ex, void* ssl, const void* buf, __u64 num, __u64* written) {
  return enter(ctx, (__u64)ssl, (__u64)buf, (__u64)written, 1);
}

SEC("uprobe")
int BPF_KPROBE(tw_ssl_read, void* ssl, void* buf) { return enter(ctx, (__u64)ssl, (__u64)buf, 0, 0); }

SEC("uprobe")
int BPF_KPROBE(tw_ssl_read_ex, void* ssl, void* buf, __u64 num, __u64* readbytes) {
  return enter(ctx, (__u64)ssl, (__u64)buf, (__u64)readbytes, 0);
}

static __always_inline int chunk(struct returning* call, __u64 off, const __u32 room) {
  struct tapwire_tls_record* r = bpf_ringbuf_reserve(&tw_tls_events, sizeof(*r) + room, 0);
  if (!r) {
    add(TAPWIRE_TLS_LOST_RECORDS, 1);
    return -1;
  }
  struct call* c = &call->c;
  __u64 len = call->len;
  __u64 n = len - off;
  if (n > room) n = room;
  r->monotonic_ns = call->ts;
  r->ssl = c->ssl;
  r->pid = call->id >> 32;
  r->tid = (__u32)call->id;
  r->total_len = len;
  r->offset = off;
  r->chunk_len = n;
  r->fd = c->fd;
  r->direction = c->direction;
  r->target = c->target;
  r->truncated = len > (__u64)TAPWIRE_TLS_CHUNK * TAPWIRE_TLS_MAX_CHUNKS;
  bpf_get_current_comm(r->comm, sizeof(r->comm));
  if (n == 0 || bpf_probe_read_user(r + 1, n, (void*)(c->buf + off)) != 0) {
    bpf_ringbuf_discard(r, 0);
    add(TAPWIRE_TLS_LOST_RECORDS, 1);
    return -1;
  }
  bpf_ringbuf_submit(r, ring_wakeup(&tw_tls_events, sizeof(*r) + room, wakeup_bytes));
  return 0;
}

// A global function, so the verifier checks it once on its own rather than once per
// chunk of the loop below: inlined, the 64 copies took Linux 6.1's verifier past its
// million-instruction limit.
__noinline int copy_chunk(__u64 off, __u64 small) {
  __u32 zero = 0;
  struct returning* call = bpf_map_lookup_elem(&tw_tls_returning, &zero);
  if (!call) return -1;
  return small ? chunk(call, off, TAPWIRE_TLS_SMALL) : chunk(call, off, TAPWIRE_TLS_CHUNK);
}

SEC("uretprobe")
int BPF_KRETPROBE(tw_ssl_return, long ret) {
  __u64 id = bpf_get_current_pid_tgid();
  struct call* found = bpf_map_lookup_elem(&tw_tls_calls, &id);
  if (!found) return 0;
  __u32 zero = 0;
  struct returning* call = bpf_map_lookup_elem(&tw_tls_returning, &zero);
  if (!call) {
    bpf_map_delete_elem(&tw_tls_calls, &id);
    return 0;
  }
  call->c = *found;
  bpf_map_delete_elem(&tw_tls_calls, &id);
  // The functions return int: the upper half of the return register is not theirs.
  int result = (int)ret;
  __u64 len = 0;
  if (call->c.moved) {
    if (result != 1 || bpf_probe_read_user(&len, sizeof(len), (void*)call->c.moved)) return 0;
  } else {
    if (result <= 0) return 0;
    len = result;
  }
  call->id = id;
  call->ts = bpf_ktime_get_ns();
  call->len = len;
  if (len <= TAPWIRE_TLS_SMALL) return copy_chunk(0, 1);
  for (__u32 i = 0; i < TAPWIRE_TLS_MAX_CHUNKS; i++) {
    __u64 off = (__u64)i * TAPWIRE_TLS_CHUNK;
    if (off >= len) return 0;
    if (copy_chunk(off, 0)) return 0;
  }
  add(TAPWIRE_TLS_TRUNCATED_BYTES, len - (__u64)TAPWIRE_TLS_CHUNK * TAPWIRE_TLS_MAX_CHUNKS);
  return 0;
}
