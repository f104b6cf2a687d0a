// The kernel verifier's own words when it refuses a program. libbpf loads a program
// without a log first and, only if the load fails, again with this buffer, so a
// program that loads costs nothing extra. The buffer is sized for the whole log of a
// large program: kernels before 6.4 keep the start of a log that does not fit and
// return ENOSPC instead of the reason, which is at its end.
#pragma once
#include <stddef.h>

#include <string>

#include "mapping.h"

struct bpf_program;

namespace tapwire {

class VerifierLog {
 public:
  VerifierLog();
  VerifierLog(const VerifierLog&) = delete;
  VerifierLog& operator=(const VerifierLog&) = delete;

  // Where a failed load of `prog` writes its log.
  void Catch(struct bpf_program* prog);
  char* data() { return reinterpret_cast<char*>(text_.data()); }
  size_t size() const { return text_.size(); }
  // The end of the log, where the verifier says what it refused and after how many
  // instructions: enough to act on, bounded for an error message.
  std::string Reason() const;

 private:
  static constexpr size_t kSize = 16u << 20;
  // Mapped, not malloc'ed: pages are touched only if a log is written, and a buffer
  // this size from malloc would make glibc raise its mmap threshold, after which every
  // capture opened leaves the heap a little more fragmented (resident memory grew by
  // about 8 KB a capture).
  Mapping text_;
};

}  // namespace tapwire
