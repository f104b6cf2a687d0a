// A shared memory mapping of a kernel ring that unmaps itself, exactly once.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace tapwire {

class Mapping {
 public:
  Mapping() = default;
  // mmap(2) of `fd`; an empty Mapping with errno set when the kernel refuses.
  static Mapping Map(int fd, size_t length, int protection, int flags, off_t offset);
  // Private zero-filled memory from the kernel, outside malloc's heap: pages cost
  // nothing until touched, and freeing them returns them at once.
  static Mapping Anonymous(size_t length);
  ~Mapping() { reset(); }
  Mapping(Mapping&& other) noexcept;
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  explicit operator bool() const { return data_ != nullptr; }
  void reset();
  // Puts private zero-filled pages where the mapping was, at the same addresses: what it
  // mapped (and held open) is let go at once, while pointers still into it read zeros
  // rather than fault until reset().
  void Blank();

 private:
  Mapping(uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace tapwire
