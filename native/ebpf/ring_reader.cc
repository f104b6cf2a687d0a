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
  pageSize_ = size_t(sysconf(_SC_PAGESIZE));
  dataSize_ = dataSize;
  mask_ = dataSize - 1;
  void* cons = mmap(nullptr, pageSize_, PROT_READ | PROT_WRITE, MAP_SHARED, mapFd, 0);
  if (cons == MAP_FAILED) return errno;
  consumer_ = static_cast<uint64_t*>(cons);
  void* prod = mmap(nullptr, pageSize_ + 2 * dataSize, PROT_READ, MAP_SHARED, mapFd, off_t(pageSize_));
  if (prod == MAP_FAILED) return errno;
  producer_ = static_cast<const uint64_t*>(prod);
  data_ = static_cast<const uint8_t*>(prod) + pageSize_;
  wakeups_ = epoll_create1(EPOLL_CLOEXEC);
  if (wakeups_ < 0) return errno;
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLET;
  if (epoll_ctl(wakeups_, EPOLL_CTL_ADD, mapFd, &ev) != 0) return errno;
  return 0;
}

void RingReader::TakeWakeups() {
  struct epoll_event ev;
  while (wakeups_ >= 0 && epoll_wait(wakeups_, &ev, 1, 0) > 0) {
  }
}

void RingReader::Unmap() {
  if (consumer_) munmap(consumer_, pageSize_);
  if (producer_) munmap(const_cast<uint64_t*>(producer_), pageSize_ + 2 * dataSize_);
  consumer_ = nullptr;
  producer_ = nullptr;
  data_ = nullptr;
  if (wakeups_ >= 0) close(wakeups_);
  wakeups_ = -1;
}

size_t RingReader::Pending() const {
  if (!producer_) return 0;
  return size_t(__atomic_load_n(producer_, __ATOMIC_ACQUIRE) - __atomic_load_n(consumer_, __ATOMIC_RELAXED));
}

}  // namespace tapwire
