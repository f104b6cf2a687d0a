#include "libbpf_log.h"

#include <bpf/libbpf.h>
#include <stdio.h>

namespace tapwire {

namespace {

// A plain pointer: nothing for the thread to destroy when it ends.
thread_local LibbpfLog* current = nullptr;

}  // namespace

void LibbpfLog::Route() {
  libbpf_set_print([](enum libbpf_print_level level, const char* format, va_list args) { return Print(int(level), format, args); });
}

LibbpfLog::LibbpfLog() : outer_(current) { current = this; }

LibbpfLog::~LibbpfLog() { current = outer_; }

int LibbpfLog::Print(int level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG || current == nullptr) return 0;
  current->Append(format, args);
  return 0;
}

void LibbpfLog::Append(const char* format, va_list args) {
  va_list again;
  va_copy(again, args);
  int n = vsnprintf(nullptr, 0, format, args);
  if (n > 0) {
    size_t at = text_.size();
    text_.resize(at + size_t(n) + 1);
    vsnprintf(&text_[at], size_t(n) + 1, format, again);
    text_.resize(at + size_t(n));
  }
  va_end(again);
  if (text_.size() > kKeep) text_.erase(0, text_.size() - kKeep);
}

}  // namespace tapwire
