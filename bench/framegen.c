/*
 * framegen: the traffic source of tapwire's capture benchmark (bench/run.js).
 *
 *   framegen send IFACE COUNT RATE LEN [BATCH]
 *       Sends exactly COUNT Ethernet/IPv4/UDP frames of LEN bytes (without FCS,
 *       60..1514) out of IFACE through an AF_PACKET socket, BATCH frames per
 *       sendmmsg() (default 64). RATE is frames/s, 0 for as fast as possible.
 *       Addresses come from the environment: FG_SRC_MAC, FG_DST_MAC, FG_SRC_IP,
 *       FG_DST_IP, FG_DST_PORT (all required: this tool has no default target).
 *       Prints one line:
 *         sent=N retries=N sleeps=N wall_ns=N cpu_ns=N user_us=N sys_us=N
 *       cpu_ns is this process's CPU time over the send loop (CLOCK_PROCESS_CPUTIME_ID),
 *       which on a veth pair includes the receive path run in this task's softirq.
 *
 *   framegen sink IP PORT
 *       Binds a UDP socket to IP:PORT and never reads it, so frames sent there end
 *       in the kernel instead of drawing ICMP port-unreachable replies. Prints
 *       "ready" and waits for a signal.
 *
 *   framegen sockstat PID
 *       Reads (and thereby resets) PACKET_STATISTICS of every AF_PACKET socket of
 *       process PID (pidfd_getfd, needs ptrace rights over it) and prints
 *         packets=N drops=N sockets=N
 *       For capturers that have no statistics API of their own.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../native/common/pidfd.h"

#define MAX_BATCH 1024
#define PACE_QUANTUM_NS 100000ULL /* sleep at most once per 100 us: wake-ups are costly */

static void die(const char* what) {
  fprintf(stderr, "framegen: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void usage(void) {
  fprintf(stderr,
          "usage: framegen send IFACE COUNT RATE LEN [BATCH]\n"
          "       framegen sink IP PORT\n"
          "       framegen sockstat PID\n");
  exit(2);
}

static unsigned long long parse_u64(const char* s, const char* name) {
  char* end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end) {
    fprintf(stderr, "framegen: bad %s '%s'\n", name, s);
    exit(2);
  }
  return v;
}

static const char* need_env(const char* name) {
  const char* v = getenv(name);
  if (!v || !*v) {
    fprintf(stderr, "framegen: %s must be set\n", name);
    exit(2);
  }
  return v;
}

static void parse_mac(const char* s, uint8_t mac[6]) {
  unsigned b[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
    fprintf(stderr, "framegen: bad MAC '%s'\n", s);
    exit(2);
  }
  for (int i = 0; i < 6; i++) mac[i] = (uint8_t)b[i];
}

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint16_t ip_checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* Ethernet + IPv4 (20 bytes, DF, TTL 64) + UDP (checksum 0: none) + zero payload. */
static void build_frame(uint8_t* f, size_t len) {
  uint8_t src_mac[6], dst_mac[6];
  struct in_addr src_ip, dst_ip;
  parse_mac(need_env("FG_SRC_MAC"), src_mac);
  parse_mac(need_env("FG_DST_MAC"), dst_mac);
  if (inet_pton(AF_INET, need_env("FG_SRC_IP"), &src_ip) != 1 || inet_pton(AF_INET, need_env("FG_DST_IP"), &dst_ip) != 1) {
    fprintf(stderr, "framegen: FG_SRC_IP and FG_DST_IP must be IPv4 addresses\n");
    exit(2);
  }
  unsigned long long port = parse_u64(need_env("FG_DST_PORT"), "FG_DST_PORT");
  if (port == 0 || port > 65535) usage();

  memset(f, 0, len);
  memcpy(f, dst_mac, 6);
  memcpy(f + 6, src_mac, 6);
  f[12] = 0x08, f[13] = 0x00;

  uint8_t* ip = f + 14;
  uint16_t ip_len = (uint16_t)(len - 14);
  ip[0] = 0x45;
  ip[2] = (uint8_t)(ip_len >> 8), ip[3] = (uint8_t)ip_len;
  ip[6] = 0x40; /* don't fragment */
  ip[8] = 64;
  ip[9] = 17; /* UDP */
  memcpy(ip + 12, &src_ip, 4);
  memcpy(ip + 16, &dst_ip, 4);
  uint16_t c = ip_checksum(ip, 20);
  ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;

  uint8_t* udp = ip + 20;
  uint16_t udp_len = (uint16_t)(ip_len - 20);
  udp[0] = 40000 >> 8, udp[1] = 40000 & 0xff;
  udp[2] = (uint8_t)(port >> 8), udp[3] = (uint8_t)port;
  udp[4] = (uint8_t)(udp_len >> 8), udp[5] = (uint8_t)udp_len;
}

static int cmd_send(int argc, char** argv) {
  if (argc < 6 || argc > 7) usage();
  const char* ifname = argv[2];
  unsigned long long count = parse_u64(argv[3], "COUNT");
  unsigned long long rate = parse_u64(argv[4], "RATE");
  unsigned long long len = parse_u64(argv[5], "LEN");
  unsigned long long batch = argc == 7 ? parse_u64(argv[6], "BATCH") : 64;
  if (len < 60 || len > 1514 || batch < 1 || batch > MAX_BATCH) usage();

  static uint8_t frame[1514];
  build_frame(frame, (size_t)len);

  unsigned ifindex = if_nametoindex(ifname);
  if (!ifindex) die(ifname);
  /* Protocol 0: this socket only sends, it never receives a copy of anything. */
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) die("socket(AF_PACKET)");
  int one = 1;
  /* Straight to the driver: no qdisc that could drop or reorder. */
  if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) != 0) die("setsockopt(PACKET_QDISC_BYPASS)");
  struct sockaddr_ll addr;
  memset(&addr, 0, sizeof(addr));
  addr.sll_family = AF_PACKET;
  addr.sll_ifindex = (int)ifindex;
  addr.sll_protocol = htons(ETH_P_IP);
  if (bind(fd, (struct sockaddr*)&addr, sizeof(addr)) != 0) die("bind");

  static struct iovec iov;
  static struct mmsghdr msgs[MAX_BATCH];
  iov.iov_base = frame;
  iov.iov_len = (size_t)len;
  for (unsigned i = 0; i < MAX_BATCH; i++) {
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  unsigned long long sent = 0, retries = 0, sleeps = 0;
  uint64_t cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  uint64_t t0 = now_ns(CLOCK_MONOTONIC);
  while (sent < count) {
    unsigned long long want = count - sent;
    if (want > batch) want = batch;
    if (rate) {
      /* Frames due by now; if none, sleep until the next quantum's worth is due. */
      uint64_t elapsed = now_ns(CLOCK_MONOTONIC) - t0;
      unsigned long long due = (unsigned long long)((__uint128_t)elapsed * rate / 1000000000ULL);
      if (due <= sent) {
        unsigned long long ahead = sent + batch < count ? sent + batch : count;
        uint64_t at = t0 + (uint64_t)((__uint128_t)ahead * 1000000000ULL / rate);
        uint64_t min_at = now_ns(CLOCK_MONOTONIC) + PACE_QUANTUM_NS;
        if (at < min_at) at = min_at;
        struct timespec ts = {(time_t)(at / 1000000000ULL), (long)(at % 1000000000ULL)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        sleeps++;
        continue;
      }
      if (due - sent < want) want = due - sent;
    }
    int n = sendmmsg(fd, msgs, (unsigned)want, 0);
    if (n < 0) {
      /* ENOBUFS: the device refused a frame (veth backlog full). Send it again. */
      if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
        retries++;
        continue;
      }
      die("sendmmsg");
    }
    sent += (unsigned)n;
  }
  uint64_t wall = now_ns(CLOCK_MONOTONIC) - t0;
  uint64_t cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("sent=%llu retries=%llu sleeps=%llu wall_ns=%llu cpu_ns=%llu user_us=%llu sys_us=%llu\n", sent, retries, sleeps,
         (unsigned long long)wall, (unsigned long long)cpu,
         (unsigned long long)ru.ru_utime.tv_sec * 1000000ULL + (unsigned long long)ru.ru_utime.tv_usec,
         (unsigned long long)ru.ru_stime.tv_sec * 1000000ULL + (unsigned long long)ru.ru_stime.tv_usec);
  close(fd);
  return 0;
}

static void on_signal(int sig) {
  (void)sig;
  _exit(0);
}

static int cmd_sink(int argc, char** argv) {
  if (argc != 4) usage();
  unsigned long long port = parse_u64(argv[3], "PORT");
  if (port == 0 || port > 65535) usage();
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1) usage();
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket(AF_INET)");
  if (bind(fd, (struct sockaddr*)&sin, sizeof(sin)) != 0) die("bind");
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  printf("ready\n");
  fflush(stdout);
  for (;;) pause(); /* never reads: the receive queue fills, then the kernel discards */
  return 0;
}

static int cmd_sockstat(int argc, char** argv) {
  if (argc != 3) usage();
  int pid = (int)parse_u64(argv[2], "PID");
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) die("pidfd_open");
  char dir[64];
  snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
  DIR* d = opendir(dir);
  if (!d) die(dir);
  unsigned long long packets = 0, drops = 0, sockets = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char link[PATH_MAX], target[256];
    snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0) continue;
    target[n] = 0;
    if (strncmp(target, "socket:", 7) != 0) continue;
    int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
    if (fd < 0) continue;
    struct tpacket_stats_v3 st;
    memset(&st, 0, sizeof(st));
    socklen_t len = sizeof(st);
    /* Only packet sockets answer SOL_PACKET; the others fail with ENOPROTOOPT. */
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
      packets += st.tp_packets; /* the kernel's tp_packets includes tp_drops */
      drops += st.tp_drops;
      sockets++;
    }
    close(fd);
  }
  closedir(d);
  printf("packets=%llu drops=%llu sockets=%llu\n", packets, drops, sockets);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) usage();
  if (!strcmp(argv[1], "send")) return cmd_send(argc, argv);
  if (!strcmp(argv[1], "sink")) return cmd_sink(argc, argv);
  if (!strcmp(argv[1], "sockstat")) return cmd_sockstat(argc, argv);
  usage();
  return 2;
}
