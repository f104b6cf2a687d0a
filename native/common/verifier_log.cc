#include "verifier_log.h"

#include <bpf/libbpf.h>
#include <string.h>

#include <vector>

namespace tapwire {

namespace {

constexpr size_t kReasonLines = 40;
constexpr size_t kLineChars = 240;

}  // namespace

VerifierLog::VerifierLog() : text_(Mapping::Anonymous(kSize)) {}

void VerifierLog::Catch(struct bpf_program* prog) {
  if (text_) bpf_program__set_log_buf(prog, reinterpret_cast<char*>(text_.data()), text_.size());
}

std::string VerifierLog::Reason() const {
  const char* text = reinterpret_cast<const char*>(text_.data());
  size_t length = text ? strnlen(text, text_.size()) : 0;
  std::vector<std::string> lines;
  size_t end = length;
  while (end > 0 && lines.size() < kReasonLines) {
    size_t start = end;
    while (start > 0 && text[start - 1] != '\n') start--;
    std::string line(text + start, end - start);
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
