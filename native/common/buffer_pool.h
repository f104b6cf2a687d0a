// The memory of what the sources hand to JavaScript: each batch is a buffer from a
// pool that becomes an ArrayBuffer, and goes back to the pool when JavaScript lets go.
#pragma once
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

#include <memory>
#include <vector>

namespace tapwire {

// Batches come and go at thousands per second; fresh memory for each would be paid in
// page faults on every packet copied into it. Buffers JavaScript has let go of wait
// here for the next batch. One pool per addon instance (main thread or worker): only
// that environment's thread touches it, since Node runs a buffer's finalizer on the
// thread of the environment that made it. Buffers still held when the environment
// goes keep the pool alive until they are finalized.
class BufferPool {
 public:
  BufferPool() = default;
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // At least `size` bytes (null if memory cannot be had); `*capacity` says how many.
  uint8_t* Acquire(size_t size, size_t* capacity);
  void Recycle(uint8_t* data, size_t capacity);

 private:
  struct Spare {
    uint8_t* data;
    size_t capacity;
  };
  std::vector<Spare> spares_;
  size_t spareBytes_ = 0;
};

// One buffer of a pool, until it is handed to JavaScript; back to the pool otherwise.
class PooledBuffer {
 public:
  PooledBuffer(const std::shared_ptr<BufferPool>& pool, size_t size);
  ~PooledBuffer();
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;

  bool ok() const { return data_ != nullptr; }
  uint8_t* data() const { return data_; }
  size_t capacity() const { return capacity_; }
  // Hands the first `used` bytes to JavaScript as an ArrayBuffer (the memory goes back
  // to the pool when it is collected). On failure the memory stays here.
  napi_status Finish(napi_env env, size_t used, napi_value* result);

 private:
  std::shared_ptr<BufferPool> pool_;
  uint8_t* data_;
  size_t capacity_ = 0;
};

}  // namespace tapwire
