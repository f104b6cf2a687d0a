// TLS plaintext from OpenSSL, GnuTLS and Go callers: uprobes on SSL_read/SSL_write (or
// OpenSSL's internal functions under them), gnutls_record_recv/gnutls_record_send note
// the buffer, the connection and the socket at entry; at return, the bytes the call
// moved are copied into a ring buffer in chunks. Go's crypto/tls (*Conn).Write is taken
// at entry, (*Conn).Read at its copy out of the record. Attached by file, so processes
// started later are covered too.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <asm/unistd.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
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
// Go: where poll.FD's pollDesc sits in a netFD (after Sysfd; Go 1.21 put SysFile between).
const volatile __u32 go_poll_desc_offset = 24;
// Where the client random is in an SSL object, for a build that inlines nss_keylog_int
// (lib/plugins/tls/openssl.ts reads it from ssl_log_secret's code).
const volatile __u32 ssl_random_offset = 0;

// The kernel's own types, only the fields read here; libbpf relocates them by the
// kernel's BTF. They lead from a thread's fd to its TCP connection.
struct file {
  void* private_data;
} __attribute__((preserve_access_index));
struct fdtable {
  unsigned int max_fds;
  struct file** fd;
} __attribute__((preserve_access_index));
struct files_struct {
  struct fdtable* fdt;
} __attribute__((preserve_access_index));
struct task_struct {
  struct files_struct* files;
} __attribute__((preserve_access_index));
struct tw_in6_addr {
  __u8 bytes[16];
};
struct sock_common {
  __be32 skc_daddr;
  __be32 skc_rcv_saddr;
  __be16 skc_dport;
  __u16 skc_num;
  unsigned short skc_family;
  struct tw_in6_addr skc_v6_daddr;
  struct tw_in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));
struct sock {
  struct sock_common __sk_common;
} __attribute__((preserve_access_index));
struct socket {
  short type;
  struct file* file;
  struct sock* sk;
} __attribute__((preserve_access_index));

struct connection {
  __u8 local_addr[16];
  __u8 remote_addr[16];
  __u16 local_port;
  __u16 remote_port;
  __u8 family;
};

struct call {
  __u64 buf;
  __u64 moved;  // _ex: where the byte count is written
  __u64 ssl;
  __u64 stream;
  __u64 sk;  // the socket of `conn`, or 0 while it is not known
  struct connection conn;
  __u8 inherited;  // sk and conn are the stream's: no socket of this call's was seen yet
  __s32 fd;
  __u16 direction;
  __u16 target;
};

// A TLS object (an SSL, a gnutls_session_t) within a process.
struct object_key {
  __u32 tgid;
  __u32 pad;
  __u64 object;
};

// The stream an object's calls belong to, and the socket they went through: an object
// reused for another socket (SSL_clear, SSL_set_fd) starts a new stream. Freeing the
// object ends its stream; objects never freed (a process that exited) age out. A call
// that touches no socket (data the library had buffered) takes the stream's connection.
struct stream {
  __u64 id;
  __u64 sk;
  struct connection conn;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct object_key);
  __type(value, struct stream);
} tw_tls_streams SEC(".maps");

// Stream ids: a counter per CPU, the CPU in the low bits, so no two are ever the same
// (atomic fetch-and-add needs Linux 5.12). A program runs to its end on one CPU.
#define STREAM_CPU_BITS 12
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} tw_tls_stream_ids SEC(".maps");

// GnuTLS keeps its transport out of reach of a struct layout: the fd each session was
// given (gnutls_transport_set_int2, _set_ptr, _set_ptr2), by session.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct object_key);
  __type(value, __s32);
} tw_tls_fds SEC(".maps");

// A call whose return never runs (its thread or goroutine was in it when the process
// exited) leaves its entry: LRU tables let such entries make room, never block new calls.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* pid_tgid: one call in flight per thread */
  __type(value, struct call);
} tw_tls_calls SEC(".maps");

// Go calls, by goroutine: a goroutine that blocks in a call resumes on whichever thread
// is free, so a Go call returns on another thread as often as not.
struct goroutine_key {
  __u32 tgid;
  __u32 pad;
  __u64 g;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct goroutine_key);
  __type(value, struct call);
} tw_go_calls SEC(".maps");

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

// The TCP connection of this thread's `fd` as it is now, or 0 (and `out` untouched) when
// the fd is not a connected TCP socket. Returns the socket, which names it. The file's
// socket must point back at the file: an fd that is not a socket fails that check.
static __always_inline __u64 connection_of(__s32 fd, struct connection* out) {
  if (fd < 0) return 0;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  struct fdtable* fdt = BPF_CORE_READ(task, files, fdt);
  if (!fdt || (__u32)fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
  struct file** fds = BPF_CORE_READ(fdt, fd);
  struct file* file = 0;
  if (!fds || bpf_probe_read_kernel(&file, sizeof(file), fds + fd) || !file) return 0;
  struct socket* sock = BPF_CORE_READ(file, private_data);
  if (!sock || BPF_CORE_READ(sock, file) != file || BPF_CORE_READ(sock, type) != 1 /* SOCK_STREAM */) return 0;
  struct sock* sk = BPF_CORE_READ(sock, sk);
  if (!sk) return 0;
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  __u16 remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (remote_port == 0) return 0; /* not connected */
  if (family == 2 /* AF_INET */) {
    __be32 local = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __be32 remote = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(out->local_addr, &local, 4);
    __builtin_memcpy(out->remote_addr, &remote, 4);
  } else if (family == 10 /* AF_INET6 */) {
    if (bpf_core_read(out->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr) ||
        bpf_core_read(out->remote_addr, 16, &sk->__sk_common.skc_v6_daddr))
      return 0;
  } else {
    return 0;
  }
  out->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
  out->remote_port = remote_port;
  out->family = family;
  return (__u64)sk;
}

// The call's stream, found or started; the call's connection, where it is not known,
// from its stream.
static __always_inline void stream_of(__u32 tgid, struct call* c) {
  struct object_key key = {.tgid = tgid, .object = c->ssl};
  struct stream* found = bpf_map_lookup_elem(&tw_tls_streams, &key);
  if (found && (!c->sk || !found->sk || found->sk == c->sk)) {
    if (!found->sk && c->sk) {
      found->sk = c->sk;
      found->conn = c->conn;
    } else if (!c->sk && found->sk) {
      c->sk = found->sk;
      c->conn = found->conn;
      c->inherited = 1;
    }
    c->stream = found->id;
    return;
  }
  __u32 zero = 0;
  __u64* count = bpf_map_lookup_elem(&tw_tls_stream_ids, &zero);
  if (!count) return;
  *count += 1;
  struct stream next = {.id = (*count << STREAM_CPU_BITS) | bpf_get_smp_processor_id(), .sk = c->sk, .conn = c->conn};
  bpf_map_update_elem(&tw_tls_streams, &key, &next, BPF_ANY);
  c->stream = next.id;
}

// A socket the call found while it ran (by the syscalls below): its stream learns it.
static __always_inline void stream_learns(__u32 tgid, const struct call* c) {
  struct object_key key = {.tgid = tgid, .object = c->ssl};
  struct stream* found = bpf_map_lookup_elem(&tw_tls_streams, &key);
  if (found && found->id == c->stream && !found->sk) {
    found->sk = c->sk;
    found->conn = c->conn;
  }
}

static __always_inline __s32 gnutls_fd(__u32 tgid, __u64 session) {
  struct object_key key = {.tgid = tgid, .object = session};
  __s32* fd = bpf_map_lookup_elem(&tw_tls_fds, &key);
  return fd ? *fd : -1;
}

// Whether the current process is one this capture captures: not the capturer itself,
// in the pid list and under the cgroup where those are set.
static __always_inline int captured(__u32 tgid) {
  if (tgid == self_tgid) return 0;
  if (only_listed_pids && !bpf_map_lookup_elem(&tw_tls_pids, &tgid)) return 0;
  if (only_cgroup && bpf_current_task_under_cgroup(&tw_tls_cgroup, 0) != 1) return 0;
  return 1;
}

static __always_inline int enter(void* ctx, __u64 ssl, __u64 buf, __u64 moved, __u32 direction) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  if (!captured(tgid)) return 0;
  struct call c = {
      .buf = buf,
      .moved = moved,
      .ssl = ssl,
      .fd = flavor == TAPWIRE_TLS_GNUTLS ? gnutls_fd(tgid, ssl) : socket_fd(ssl),
      .direction = direction,
      .target = target,
  };
  c.sk = connection_of(c.fd, &c.conn);
  stream_of(tgid, &c);
  bpf_map_update_elem(&tw_tls_calls, &id, &c, BPF_ANY);
  return 0;
}

// Libraries that do their socket I/O inside the call through their own code (curl's
// BIO, a custom GnuTLS push/pull) name no fd the uprobe can read: the first socket the
// thread reads or writes while the call runs is the call's. The raw sys_enter
// tracepoint is there without kprobes and without tracefs mounted; a syscall other
// than these costs a compare, one of these on a thread with no call in flight a lookup.
static __always_inline int socket_syscall(long nr) {
  return nr == __NR_read || nr == __NR_write || nr == __NR_readv || nr == __NR_writev || nr == __NR_sendto || nr == __NR_recvfrom ||
         nr == __NR_sendmsg || nr == __NR_recvmsg;
}

SEC("raw_tracepoint/sys_enter")
int tw_sys_enter(struct bpf_raw_tracepoint_args* ctx) {
  if (!socket_syscall((long)ctx->args[1])) return 0;
  __u64 id = bpf_get_current_pid_tgid();
  struct call* c = bpf_map_lookup_elem(&tw_tls_calls, &id);
  if (!c || (c->sk && !c->inherited)) return 0;
  struct pt_regs* regs = (struct pt_regs*)ctx->args[0];
  __u64 fd = 0;
  if (bpf_probe_read_kernel(&fd, sizeof(fd), &PT_REGS_PARM1(regs))) return 0;
  struct connection conn = {};
  __u64 sk = connection_of((__s32)fd, &conn);
  if (!sk) return 0;
  c->fd = (__s32)fd;
  c->inherited = 0;
  if (c->sk == sk) return 0;
  // The object's socket is another than its stream's: a new connection, a new stream.
  int moved = c->sk != 0;
  c->sk = sk;
  c->conn = conn;
  if (moved)
    stream_of(id >> 32, c);
  else
    stream_learns(id >> 32, c);
  return 0;
}

// SSL_free, gnutls_deinit: the object's stream ends; its address may be the next one's.
SEC("uprobe")
int BPF_KPROBE(tw_tls_free, void* object) {
  struct object_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .object = (__u64)object};
  bpf_map_delete_elem(&tw_tls_streams, &key);
  bpf_map_delete_elem(&tw_tls_fds, &key);
  return 0;
}

// gnutls_transport_set_int2(session, recv_fd, send_fd), gnutls_transport_set_ptr(2):
// the fd a session reads from. A pointer that is no small number is not an fd (curl
// passes its own state with its own push and pull functions): the session stays without.
SEC("uprobe")
int BPF_KPROBE(tw_gnutls_transport, void* session, __u64 recv) {
  struct object_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .object = (__u64)session};
  if (recv >= (1u << 30)) {
    bpf_map_delete_elem(&tw_tls_fds, &key);
    return 0;
  }
  __s32 fd = (__s32)recv;
  bpf_map_update_elem(&tw_tls_fds, &key, &fd, BPF_ANY);
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
  r->stream = c->stream;
  r->family = c->conn.family;
  __builtin_memcpy(r->local_addr, c->conn.local_addr, 16);
  __builtin_memcpy(r->remote_addr, c->conn.remote_addr, 16);
  r->local_port = c->conn.local_port;
  r->remote_port = c->conn.remote_port;
  __builtin_memset(r->pad, 0, sizeof(r->pad));
  __builtin_memset(r->pad2, 0, sizeof(r->pad2));
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

// The call in `tw_tls_returning` moved `len` bytes: they go to the ring in chunks.
static __always_inline int copy_call(struct returning* call, __u64 id, __u64 len) {
  // ssl_write_internal reports success for a write of no bytes: nothing to deliver.
  if (len == 0) return 0;
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

// The call noted at entry under `key` in `calls`, moved into tw_tls_returning, or null.
static __always_inline struct returning* take_call(void* calls, void* key) {
  struct call* found = bpf_map_lookup_elem(calls, key);
  if (!found) return 0;
  __u32 zero = 0;
  struct returning* call = bpf_map_lookup_elem(&tw_tls_returning, &zero);
  if (call) call->c = *found;
  bpf_map_delete_elem(calls, key);
  return call;
}

SEC("uretprobe")
int BPF_KRETPROBE(tw_ssl_return, long ret) {
  __u64 id = bpf_get_current_pid_tgid();
  struct returning* call = take_call(&tw_tls_calls, &id);
  if (!call) return 0;
  // OpenSSL's functions return int: the upper half of the return register is not theirs.
  // GnuTLS's return ssize_t, of one record at most: the lower half holds it whole.
  int result = (int)ret;
  __u64 len = 0;
  if (call->c.moved) {
    // The _ex forms return 1 on success; ssl_read_internal and ssl_write_internal any
    // positive number.
    if (result <= 0 || bpf_probe_read_user(&len, sizeof(len), (void*)call->c.moved)) return 0;
  } else {
    if (result <= 0) return 0;
    len = result;
  }
  return copy_call(call, id, len);
}

// Go's register ABI (1.17+ on amd64, 1.18+ on arm64): arguments and results in the
// same registers from the first, the receiver first and a slice as pointer, length,
// capacity; the running goroutine in a register of its own. The first is also the C
// return register, which PT_REGS_RC names on both.
// GO_STACK_GROWS: at the stack check's branch (JBE, B.LS), whether it is taken: the
// function then grows its stack and starts over, and the probe fires again.
#if defined(__TARGET_ARCH_x86)
#define GO_ARG2(r) ((r)->rbx)
#define GO_ARG3(r) ((r)->rcx)
#define GO_G(r) ((r)->r14)
#define GO_STACK_GROWS(r) (((r)->eflags & 0x41) != 0) /* CF or ZF */
#elif defined(__TARGET_ARCH_arm64)
#define GO_ARG2(r) (((const struct user_pt_regs*)(r))->regs[1])
#define GO_ARG3(r) (((const struct user_pt_regs*)(r))->regs[2])
#define GO_G(r) (((const struct user_pt_regs*)(r))->regs[28])
#define GO_PSTATE(r) (((const struct user_pt_regs*)(r))->pstate)
#define GO_STACK_GROWS(r) (!(GO_PSTATE(r) & (1ull << 29)) || (GO_PSTATE(r) & (1ull << 30))) /* !C or Z */
#endif
#define GO_ARG1(r) PT_REGS_RC(r)

// A tls.Conn's socket fd, where its net.Conn is a *net.TCPConn (or another netFD
// wrapper of that shape): Conn.conn's data word leads to the netFD, whose poll.FD holds
// Sysfd and the runtime's poll descriptor, which holds the same fd again. Both must
// agree, so a Conn over anything else (a wrapper, a pipe) reads as no fd, not as a
// wrong one.
static __always_inline __s32 go_fd(__u64 conn) {
  __u64 data = 0, netfd = 0, desc = 0, desc_fd = 0;
  __s64 sysfd = -1;
  if (bpf_probe_read_user(&data, sizeof(data), (void*)(conn + 8)) || !data) return -1;
  if (bpf_probe_read_user(&netfd, sizeof(netfd), (void*)data) || !netfd) return -1;
  if (bpf_probe_read_user(&sysfd, sizeof(sysfd), (void*)(netfd + 16))) return -1;
  if (bpf_probe_read_user(&desc, sizeof(desc), (void*)(netfd + go_poll_desc_offset)) || !desc) return -1;
  if (bpf_probe_read_user(&desc_fd, sizeof(desc_fd), (void*)(desc + 8))) return -1;
  if (sysfd < 0 || sysfd >= (1 << 30) || (__u64)sysfd != desc_fd) return -1;
  return (__s32)sysfd;
}

// The probes sit on instructions the kernel emulates (a conditional branch, a call)
// rather than steps out of line: a single step costs a debug trap, which a virtual
// machine may turn into an exit, tens of microseconds per call.

// Read and Write, at the branch of their stack check: the arguments are still in
// their registers there. Read's is noted for its copy; Write's bytes are the plaintext,
// all of it written unless the connection fails, taken now: the goroutine may never
// return from the call (the program exits first).
static __always_inline int go_enter(struct pt_regs* regs, __u16 direction) {
  if (GO_STACK_GROWS(regs)) return 0;
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  if (!captured(tgid)) return 0;
  struct call c = {.buf = GO_ARG2(regs), .ssl = GO_ARG1(regs), .direction = direction, .target = target};
  c.fd = go_fd(c.ssl);
  c.sk = connection_of(c.fd, &c.conn);
  stream_of(tgid, &c);
  if (direction == 0) {
    struct goroutine_key key = {.tgid = tgid, .g = GO_G(regs)};
    bpf_map_update_elem(&tw_go_calls, &key, &c, BPF_ANY);
    return 0;
  }
  __s64 len = (__s64)GO_ARG3(regs);
  __u32 zero = 0;
  struct returning* call = bpf_map_lookup_elem(&tw_tls_returning, &zero);
  if (!call || len <= 0) return 0;
  call->c = c;
  return copy_call(call, id, len);
}

SEC("uprobe")
int tw_go_read(struct pt_regs* ctx) { return go_enter(ctx, 0); }

SEC("uprobe")
int tw_go_write(struct pt_regs* ctx) { return go_enter(ctx, 1); }

// Read's one copy out of the decrypted record, the call to runtime.memmove(to, from,
// n) its bytes.Reader makes: n bytes from the record are what Read returns. Read from
// their source, so a caller's buffer on a stack that moves does not matter.
SEC("uprobe")
int tw_go_copy(struct pt_regs* ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  struct goroutine_key key = {.tgid = id >> 32, .g = GO_G(ctx)};
  struct returning* call = take_call(&tw_go_calls, &key);
  __s64 n = (__s64)GO_ARG3(ctx);
  if (!call || n <= 0) return 0;
  call->c.buf = GO_ARG2(ctx);
  return copy_call(call, id, n);
}

// Go's (*Config).writeKeyLog(label string, clientRandom, secret []byte), called at each
// handshake step whether or not the program set a KeyLogWriter: the secret, as a key
// log line's parts, at the branch of its stack check (as Read and Write).
#if defined(__TARGET_ARCH_x86)
#define GO_ARG4(r) ((r)->rdi)
#define GO_ARG5(r) ((r)->rsi)
#define GO_ARG7(r) ((r)->r9)
#define GO_ARG8(r) ((r)->r10)
#elif defined(__TARGET_ARCH_arm64)
#define GO_ARG4(r) (((const struct user_pt_regs*)(r))->regs[3])
#define GO_ARG5(r) (((const struct user_pt_regs*)(r))->regs[4])
#define GO_ARG7(r) (((const struct user_pt_regs*)(r))->regs[6])
#define GO_ARG8(r) (((const struct user_pt_regs*)(r))->regs[7])
#endif
#define SECRET_DATA (3 + TAPWIRE_TLS_LABEL_MAX + TAPWIRE_TLS_RANDOM_LEN + TAPWIRE_TLS_SECRET_MAX)

// `n`, known to the verifier as at most `max` where it is used: a length checked earlier
// can come back from the stack with its bounds lost (Linux 5.10 and 6.1 do).
static __always_inline __u32 at_most(__u64 n, __u32 max) {
  __u32 v = n > max ? max : n;
  // The clamped value itself is passed on, not the register it was clamped from.
  asm volatile("" : "+r"(v));
  return v;
}

// A key log line's parts as a record: the label (`label_len` bytes, or a C string when
// 0), the client random and the secret. Anything but a key log line's parts is not read:
// nothing is made up.
static __always_inline int send_secret(struct pt_regs* ctx, __u64 id, __u64 label, __u64 label_len, __u64 random, __u64 random_len,
                                       __u64 secret, __u64 secret_len) {
  if (label_len > TAPWIRE_TLS_LABEL_MAX || random_len != TAPWIRE_TLS_RANDOM_LEN || secret_len == 0 || secret_len > TAPWIRE_TLS_SECRET_MAX)
    return 0;
  struct tapwire_tls_record* r = bpf_ringbuf_reserve(&tw_tls_events, sizeof(*r) + SECRET_DATA, 0);
  if (!r) {
    add(TAPWIRE_TLS_LOST_RECORDS, 1);
    return 0;
  }
  __builtin_memset(r, 0, sizeof(*r));
  __u8* d = (__u8*)(r + 1);
  d[1 + TAPWIRE_TLS_LABEL_MAX] = random_len;
  d[2 + TAPWIRE_TLS_LABEL_MAX + TAPWIRE_TLS_RANDOM_LEN] = secret_len;
  // The label is a constant in the file's read-only data, on a page this process may
  // never have touched (and a uprobe cannot fault in): unread, it goes as its address
  // and the probe's, for user space to name from the file (lib/plugins/tls/labels.ts).
  long got = label_len ? bpf_probe_read_user(d + 1, at_most(label_len, TAPWIRE_TLS_LABEL_MAX), (void*)label)
                       : bpf_probe_read_user_str(d + 1, TAPWIRE_TLS_LABEL_MAX, (void*)label);
  if (got < 0 || (!label_len && got <= 1)) {
    d[0] = 0;
    r->ssl = label;
    r->stream = PT_REGS_IP(ctx);
  } else {
    d[0] = label_len ? label_len : got - 1;
  }
  if (bpf_probe_read_user(d + 2 + TAPWIRE_TLS_LABEL_MAX, TAPWIRE_TLS_RANDOM_LEN, (void*)random) ||
      bpf_probe_read_user(d + 3 + TAPWIRE_TLS_LABEL_MAX + TAPWIRE_TLS_RANDOM_LEN, at_most(secret_len, TAPWIRE_TLS_SECRET_MAX),
                          (void*)secret)) {
    bpf_ringbuf_discard(r, 0);
    add(TAPWIRE_TLS_LOST_RECORDS, 1);
    return 0;
  }
  r->monotonic_ns = bpf_ktime_get_ns();
  r->pid = id >> 32;
  r->tid = (__u32)id;
  r->total_len = SECRET_DATA;
  r->chunk_len = SECRET_DATA;
  r->fd = -1;
  r->direction = TAPWIRE_TLS_SECRET;
  r->target = target;
  bpf_get_current_comm(r->comm, sizeof(r->comm));
  bpf_ringbuf_submit(r, ring_wakeup(&tw_tls_events, sizeof(*r) + SECRET_DATA, wakeup_bytes));
  return 0;
}

SEC("uprobe")
int tw_go_keylog(struct pt_regs* ctx) {
  if (GO_STACK_GROWS(ctx)) return 0;
  __u64 id = bpf_get_current_pid_tgid();
  if (!captured(id >> 32)) return 0;
  if (GO_ARG3(ctx) == 0) return 0;
  return send_secret(ctx, id, GO_ARG2(ctx), GO_ARG3(ctx), GO_ARG4(ctx), GO_ARG5(ctx), GO_ARG7(ctx), GO_ARG8(ctx));
}

// OpenSSL's nss_keylog_int(label, ssl, client_random, random_len, secret, secret_len),
// which every secret of every handshake goes through (TLS 1.2's master secret as
// CLIENT_RANDOM, each TLS 1.3 traffic secret), whether or not the program set a key log
// callback (lib/plugins/tls/openssl.ts finds it).
#if defined(__TARGET_ARCH_x86)
#define C_ARG6(r) ((r)->r9)
#elif defined(__TARGET_ARCH_arm64)
#define C_ARG6(r) (((const struct user_pt_regs*)(r))->regs[5])
#endif

SEC("uprobe")
int tw_openssl_keylog(struct pt_regs* ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  if (!captured(id >> 32)) return 0;
  return send_secret(ctx, id, PT_REGS_PARM1(ctx), 0, PT_REGS_PARM3(ctx), PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx), C_ARG6(ctx));
}

// ssl_log_secret(ssl, label, secret, secret_len), where a build inlines nss_keylog_int
// into it (node's): the same parts, the client random from inside the SSL object.
SEC("uprobe")
int tw_openssl_log_secret(struct pt_regs* ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  if (!captured(id >> 32)) return 0;
  return send_secret(ctx, id, PT_REGS_PARM2(ctx), 0, PT_REGS_PARM1(ctx) + ssl_random_offset, TAPWIRE_TLS_RANDOM_LEN, PT_REGS_PARM3(ctx),
                     PT_REGS_PARM4(ctx));
}

// (*Conn).Close: the connection's stream ends.
SEC("uprobe")
int tw_go_close(struct pt_regs* ctx) {
  struct object_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .object = GO_ARG1(ctx)};
  bpf_map_delete_elem(&tw_tls_streams, &key);
  return 0;
}

// A process exec'd: user space looks for the TLS libraries it maps (a copy on
// LD_LIBRARY_PATH, a container's own image) and hooks the files not hooked yet. A
// record with no data, for the processes this capture would capture.
SEC("raw_tracepoint/sched_process_exec")
int tw_exec(struct bpf_raw_tracepoint_args* ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;
  if (!captured(tgid)) return 0;
  struct tapwire_tls_record* r = bpf_ringbuf_reserve(&tw_tls_events, sizeof(*r), 0);
  if (!r) {
    add(TAPWIRE_TLS_LOST_RECORDS, 1);
    return 0;
  }
  __builtin_memset(r, 0, sizeof(*r));
  r->monotonic_ns = bpf_ktime_get_ns();
  r->pid = tgid;
  r->tid = (__u32)id;
  r->fd = -1;
  r->direction = TAPWIRE_TLS_EXEC;
  bpf_get_current_comm(r->comm, sizeof(r->comm));
  bpf_ringbuf_submit(r, ring_wakeup(&tw_tls_events, sizeof(*r), wakeup_bytes));
  return 0;
}
