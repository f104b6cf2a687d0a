// The kernel verifier's own words when it refuses a program. libbpf loads a program
// without a log first and, only if the load fails, again with this buffer, so a
// program that loads costs nothing extra. The buffer is sized for the whole log of a
// large program: kernels before 6.4 keep the start of a log that does not fit and
// return ENOSPC instead of the reason, which is at its end.
#pragma once
#include <stddef.h>

#include <memory>
#include <string>

struct bpf_program;

namespace tapwire {

class VerifierLog {
 public:
  VerifierLog();
  VerifierLog(const VerifierLog&) = delete;
  VerifierLog& operator=(const VerifierLog&) = delete;

  // Where a failed load of `prog` writes its log.
  void Catch(struct bpf_program* prog);
  char* data() { return text_.get(); }
  size_t size() const { return kSize; }
  // The end of the log, where the verifier says what it refused and after how many
  // instructions: enough to act on, bounded for an error message.
  std::string Reason() const;

 private:
  static constexpr size_t kSize = 16u << 20;
  std::unique_ptr<char[]> text_;  // not zeroed: pages are touched only if a log is written
};

}  // namespace tapwire
