#include "mapping.h"

#include <sys/mman.h>

namespace tapwire {

Mapping Mapping::Map(int fd, size_t length, int protection, int flags, off_t offset) {
  void* at = mmap(nullptr, length, protection, flags, fd, offset);
  if (at == MAP_FAILED) return Mapping();
  return Mapping(static_cast<uint8_t*>(at), length);
}

Mapping Mapping::Anonymous(size_t length) { return Map(-1, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0); }

Mapping::Mapping(Mapping&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void Mapping::Blank() {
  if (data_ && mmap(data_, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
    reset();
}

void Mapping::reset() {
  if (data_) munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace tapwire
