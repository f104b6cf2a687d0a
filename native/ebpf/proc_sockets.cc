#include "proc_sockets.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_set>

#include "../common/fd.h"
#include "../common/pidfd.h"
#include "bpf/owner.h"

namespace tapwire {

namespace {

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};
using Dir = std::unique_ptr<DIR, DirCloser>;

// A /proc entry's number, or -1 for any other name.
long NumberOf(const char* name) {
  char* end;
  long n = strtol(name, &end, 10);
  return *name != '\0' && *end == '\0' ? n : -1;
}

// A process as /proc shows it: what the hooks would record for it (owners.bpf.c's
// own()), and its cgroup v1 net_cls and net_prio lines, if those are mounted.
struct Process {
  struct tapwire_owner owner = {};
  std::string netClass;
};

Process ProcessOf(const std::string& pid, const std::string& cgroupRoot) {
  Process p;
  p.owner.tgid = static_cast<__u32>(std::stoul(pid));
  std::ifstream comm("/proc/" + pid + "/comm");
  std::string line;
  if (std::getline(comm, line)) strncpy(p.owner.comm, line.c_str(), sizeof(p.owner.comm) - 1);
  std::ifstream cgroups("/proc/" + pid + "/cgroup");
  while (std::getline(cgroups, line)) {
    // The unified hierarchy's line, "0::/path": the cgroup id is its directory's inode.
    struct stat st;
    if (line.rfind("0::", 0) == 0 && stat((cgroupRoot + line.substr(3)).c_str(), &st) == 0) p.owner.cgroup_id = st.st_ino;
    // "N:controllers:/path", the controllers comma-separated.
    size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    std::string controllers = b == std::string::npos ? "" : "," + line.substr(a + 1, b - a - 1) + ",";
    if (controllers.find(",net_cls,") != std::string::npos || controllers.find(",net_prio,") != std::string::npos)
      p.netClass += line + "\n";
  }
  return p;
}

// The inode of the socket a descriptor link names ("socket:[12345]"), or 0.
unsigned long SocketInode(int dirFd, const char* fd) {
  char target[64];
  ssize_t n = readlinkat(dirFd, fd, target, sizeof(target) - 1);
  if (n <= 0) return 0;
  target[n] = '\0';
  unsigned long ino;
  return sscanf(target, "socket:[%lu]", &ino) == 1 ? ino : 0;
}

bool IsInet(int fd) {
  int domain = 0;
  socklen_t len = sizeof(domain);
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && (domain == AF_INET || domain == AF_INET6);
}

}  // namespace

ProcSockets NameSocketsFromProc(int ownersFd, const std::string& cgroupRoot) {
  ProcSockets counts;
  std::unordered_set<unsigned long> seen;  // borrowed: a socket shared across fork is named once
  std::unordered_set<unsigned long> left;  // not borrowed from some process
  Dir proc(opendir("/proc"));
  if (!proc) return counts;
  // Receiving a socket gives it the receiver's net_cls class id and net_prio index
  // (__receive_sock): only a process whose are ours has its sockets borrowed.
  const std::string ours = ProcessOf(std::to_string(getpid()), cgroupRoot).netClass;
  while (struct dirent* e = readdir(proc.get())) {
    long pid = NumberOf(e->d_name);
    if (pid <= 0) continue;
    Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) continue;  // exited
    Dir fds(opendir(("/proc/" + std::string(e->d_name) + "/fd").c_str()));
    if (!fds) continue;
    std::unique_ptr<Process> process;  // read at its first socket
    while (struct dirent* f = readdir(fds.get())) {
      long fd = NumberOf(f->d_name);
      if (fd < 0) continue;
      unsigned long ino = SocketInode(dirfd(fds.get()), f->d_name);
      if (ino == 0 || seen.count(ino)) continue;
      if (!process) process = std::make_unique<Process>(ProcessOf(e->d_name, cgroupRoot));
      if (process->netClass != ours) {
        left.insert(ino);
        continue;
      }
      Fd borrowed(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
      if (!borrowed) {
        if (errno != EBADF) left.insert(ino);  // EBADF: closed since the listing
        continue;
      }
      seen.insert(ino);
      if (!IsInet(borrowed.get())) continue;
      int key = borrowed.get();
      // BPF_NOEXIST: an owner a hook recorded since the capture opened stands.
      if (bpf_map_update_elem(ownersFd, &key, &process->owner, BPF_NOEXIST) == 0)
        counts.named++;
      else if (errno != EEXIST)
        left.insert(ino);
    }
  }
  for (unsigned long ino : left) counts.unnamed += !seen.count(ino);
  return counts;
}

bool HasPidfdGetfd() { return syscall(SYS_pidfd_getfd, -1, 0, 0) < 0 && errno != ENOSYS; }

}  // namespace tapwire
