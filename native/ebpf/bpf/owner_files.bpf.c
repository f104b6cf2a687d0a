// Names the owners of the sockets that existed before the capture opened: an iterator
// over every task's open files, run once, writing the socket-local storage that
// owners.bpf.c's hooks write for the sockets made later. Apart from them because it
// needs what not every kernel has: kernel BTF (its types are relocated by it) and
// bpf_sock_from_file (Linux 5.11).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "owner.h"

char LICENSE[] SEC("license") = "GPL";

// The kernel's own types, only the fields read here; libbpf relocates them by the
// kernel's BTF.
struct kernfs_node {
  __u64 id;
} __attribute__((preserve_access_index));
struct cgroup {
  struct kernfs_node* kn;
} __attribute__((preserve_access_index));
struct css_set {
  struct cgroup* dfl_cgrp;
} __attribute__((preserve_access_index));
struct task_struct {
  int tgid;
  char comm[16];
  struct css_set* cgroups;
} __attribute__((preserve_access_index));
struct sock;
struct socket {
  struct sock* sk;
} __attribute__((preserve_access_index));
struct file;
struct bpf_iter_meta;
struct bpf_iter__task_file {
  union {
    struct bpf_iter_meta* meta;
  };
  union {
    struct task_struct* task;
  };
  __u32 fd;
  union {
    struct file* file;
  };
} __attribute__((preserve_access_index));

// Sockets that predate the capture: the first task found holding one owns it (tasks
// come in pid order, so a forking server's parent), unless a hook named an owner first.
SEC("iter/task_file")
int tw_own_files(struct bpf_iter__task_file* ctx) {
  struct task_struct* task = ctx->task;
  struct file* file = ctx->file;
  if (!task || !file) return 0;
  struct socket* sock = bpf_sock_from_file(file);
  if (!sock) return 0;
  struct tapwire_owner* o = bpf_sk_storage_get(&tw_owners, sock->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!o || o->tgid != 0) return 0;
  o->tgid = task->tgid;
  o->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
  __builtin_memcpy(o->comm, task->comm, sizeof(o->comm));
  return 0;
}
