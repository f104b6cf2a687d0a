/* Runs a command on a host whose kernel refuses part of eBPF, the way a container's
 * seccomp profile (or an older kernel) does. Children inherit the filter.
 *   seccomp-host no-bpf COMMAND...        bpf() fails ENOSYS: no eBPF at all
 *   seccomp-host no-ebpf-attach COMMAND... programs load, but attaching them fails
 *       EINVAL (bpf(BPF_LINK_CREATE), setsockopt(SO_ATTACH_BPF)): the probe passes and
 *       only opening a capture finds out. Classic filters (SO_ATTACH_FILTER) still work. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "add this architecture's AUDIT_ARCH"
#endif

#define LOAD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define ARG(n) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[n]))
#define FAIL(err) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((err) & SECCOMP_RET_DATA))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
/* Other architectures' system call numbers mean other calls: let them be. */
#define THIS_ARCH_ONLY LOAD(arch), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0), ALLOW

int main(int argc, char** argv) {
  struct sock_filter no_bpf[] = {
      THIS_ARCH_ONLY,
      LOAD(nr),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 0, 1),
      FAIL(ENOSYS),
      ALLOW,
  };
  struct sock_filter no_ebpf_attach[] = {
      THIS_ARCH_ONLY,
      LOAD(nr),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 0, 3),
      ARG(0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BPF_LINK_CREATE, 0, 1),
      FAIL(EINVAL),
      LOAD(nr),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt, 0, 4),
      ARG(1),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, 2),
      ARG(2),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_ATTACH_BPF, 1, 0),
      ALLOW,
      FAIL(EINVAL),
  };
  struct sock_fprog prog;
  if (argc >= 3 && strcmp(argv[1], "no-bpf") == 0) {
    prog = (struct sock_fprog){sizeof(no_bpf) / sizeof(no_bpf[0]), no_bpf};
  } else if (argc >= 3 && strcmp(argv[1], "no-ebpf-attach") == 0) {
    prog = (struct sock_fprog){sizeof(no_ebpf_attach) / sizeof(no_ebpf_attach[0]), no_ebpf_attach};
  } else {
    fprintf(stderr, "usage: seccomp-host no-bpf|no-ebpf-attach COMMAND [ARG...]\n");
    return 2;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    perror("seccomp-host");
    return 1;
  }
  execvp(argv[2], argv + 2);
  perror("seccomp-host: exec");
  return 127;
}
