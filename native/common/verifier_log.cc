#include "verifier_log.h"

#include <bpf/libbpf.h>
#include <string.h>

#include <vector>

namespace tapwire {

namespace {

constexpr size_t kReasonLines = 40;
constexpr size_t kLineChars = 240;

}  // namespace

VerifierLog::VerifierLog() : text_(new char[kSize]) { text_[0] = 0; }

void VerifierLog::Catch(struct bpf_program* prog) { bpf_program__set_log_buf(prog, text_.get(), kSize); }

std::string VerifierLog::Reason() const {
  size_t length = strnlen(text_.get(), kSize);
  std::vector<std::string> lines;
  size_t end = length;
  while (end > 0 && lines.size() < kReasonLines) {
    size_t start = end;
    while (start > 0 && text_[start - 1] != '\n') start--;
    std::string line(text_.get() + start, end - start);
    if (!line.empty() && line != "\n") {
      if (line.back() == '\n') line.pop_back();
      if (line.size() > kLineChars) line = line.substr(0, kLineChars) + "...";
      lines.push_back(line);
    }
    end = start > 0 ? start - 1 : 0;
  }
  std::string out;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) out += *it + "\n";
  return out;
}

}  // namespace tapwire
