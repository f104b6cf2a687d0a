// The sockets that predate a capture, named from user space where the kernel will not
// run the task-file iterator (bpf/owner_files.bpf.c): every process's descriptors in
// /proc, each socket borrowed with pidfd_getfd (Linux 5.6+, CAP_SYS_PTRACE) just long
// enough to write its owner into the socket-local storage the hooks write. Borrowing is
// receiving: it sets the socket's cgroup v1 net_cls class id and net_prio index to this
// process's, so the sockets of a process in other such cgroups are left alone.
#pragma once
#include <string>

namespace tapwire {

struct ProcSockets {
  unsigned named = 0;    // IPv4 and IPv6 sockets given an owner
  unsigned unnamed = 0;  // sockets of any family left unnamed: EPERM, or another net_cls or net_prio cgroup
};

// Names each IPv4 and IPv6 socket of every process /proc shows, the first process found
// holding it (pid order: a forking server's parent), unless a hook named it first.
// `cgroupRoot` is the cgroup v2 mount the processes' cgroup paths are under.
ProcSockets NameSocketsFromProc(int ownersFd, const std::string& cgroupRoot);

// Whether this kernel has pidfd_getfd.
bool HasPidfdGetfd();

}  // namespace tapwire
