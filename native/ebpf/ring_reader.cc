#include "ring_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <errno.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

namespace tapwire {

uint64_t SumPerCpu(int mapFd, uint32_t key) {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return 0;
  std::vector<uint64_t> values(size_t(cpus), 0);
  if (bpf_map_lookup_elem(mapFd, &key, values.data()) != 0) return 0;
  uint64_t total = 0;
  for (uint64_t v : values) total += v;
  return total;
}

int RingReader::Map(int mapFd, size_t dataSize) {
  size_t pageSize = size_t(sysconf(_SC_PAGESIZE));
  Mapping consumer = Mapping::Map(mapFd, pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
  if (!consumer) return errno;
  Mapping producer = Mapping::Map(mapFd, pageSize + 2 * dataSize, PROT_READ, MAP_SHARED, off_t(pageSize));
  if (!producer) return errno;
  Fd wakeups(epoll_create1(EPOLL_CLOEXEC));
  if (!wakeups) return errno;
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLET;
  if (epoll_ctl(wakeups.get(), EPOLL_CTL_ADD, mapFd, &ev) != 0) return errno;
  consumer_ = reinterpret_cast<uint64_t*>(consumer.data());
  producer_ = reinterpret_cast<const uint64_t*>(producer.data());
  data_ = producer.data() + pageSize;
  dataSize_ = dataSize;
  mask_ = dataSize - 1;
  consumerPage_ = std::move(consumer);
  producerPages_ = std::move(producer);
  wakeups_ = std::move(wakeups);
  return 0;
}

void RingReader::TakeWakeups() {
  struct epoll_event ev;
  while (wakeups_ && epoll_wait(wakeups_.get(), &ev, 1, 0) > 0) {
  }
}

size_t RingReader::Pending() const {
  if (!producer_) return 0;
  return size_t(__atomic_load_n(producer_, __ATOMIC_ACQUIRE) - __atomic_load_n(consumer_, __ATOMIC_RELAXED));
}

}  // namespace tapwire
