#include "packet_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/socket.h>

#include "errors.h"

namespace tapwire {

Fd OpenPacketSocket(Napi::Env env, int flags) {
  Fd fd(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | flags, 0));
  if (!fd) throw SystemError(env, "socket", errno);
  return fd;
}

void BindPacketSocket(Napi::Env env, int fd, uint32_t ifindex) {
  struct sockaddr_ll addr;
  memset(&addr, 0, sizeof(addr));
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = int(ifindex);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) throw SystemError(env, "bind", errno);
}

void AddPromiscuous(Napi::Env env, int fd, uint32_t ifindex) {
  struct packet_mreq mreq;
  memset(&mreq, 0, sizeof(mreq));
  mreq.mr_ifindex = int(ifindex);
  mreq.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) != 0)
    throw SystemError(env, "setsockopt(PACKET_ADD_MEMBERSHIP)", errno);
}

}  // namespace tapwire
