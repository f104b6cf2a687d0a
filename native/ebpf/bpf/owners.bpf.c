// Records the owner of every socket the host's processes use, in socket-local storage
// that the capture programs read (capture.bpf.c). Hooks at the root cgroup see each
// socket a process creates, binds, connects, or sends and receives datagrams on, in
// that process's context. (owner_files.bpf.c names the sockets that already existed.)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "owner.h"

char LICENSE[] SEC("license") = "GPL";

// The current task owns the socket from now on: the last process to use a socket
// (one inherited across fork, or passed over a Unix socket) is the one named.
static __always_inline void own(struct tapwire_owner* o) {
  if (!o) return;
  o->tgid = bpf_get_current_pid_tgid() >> 32;
  o->cgroup_id = bpf_get_current_cgroup_id();
  bpf_get_current_comm(o->comm, sizeof(o->comm));
}

SEC("cgroup/sock_create")
int tw_own_create(struct bpf_sock* sk) {
  own(bpf_sk_storage_get(&tw_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE));
  return 1;
}

SEC("cgroup/post_bind4")
int tw_own_bind4(struct bpf_sock* sk) {
  own(bpf_sk_storage_get(&tw_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE));
  return 1;
}

SEC("cgroup/post_bind6")
int tw_own_bind6(struct bpf_sock* sk) {
  own(bpf_sk_storage_get(&tw_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE));
  return 1;
}

static __always_inline int own_addr(struct bpf_sock_addr* ctx) {
  struct bpf_sock* sk = ctx->sk;
  if (sk) own(bpf_sk_storage_get(&tw_owners, sk, 0, BPF_SK_STORAGE_GET_F_CREATE));
  return 1;
}

SEC("cgroup/connect4")
int tw_own_connect4(struct bpf_sock_addr* ctx) { return own_addr(ctx); }
SEC("cgroup/connect6")
int tw_own_connect6(struct bpf_sock_addr* ctx) { return own_addr(ctx); }
SEC("cgroup/sendmsg4")
int tw_own_sendmsg4(struct bpf_sock_addr* ctx) { return own_addr(ctx); }
SEC("cgroup/sendmsg6")
int tw_own_sendmsg6(struct bpf_sock_addr* ctx) { return own_addr(ctx); }
SEC("cgroup/recvmsg4")
int tw_own_recvmsg4(struct bpf_sock_addr* ctx) { return own_addr(ctx); }
SEC("cgroup/recvmsg6")
int tw_own_recvmsg6(struct bpf_sock_addr* ctx) { return own_addr(ctx); }
