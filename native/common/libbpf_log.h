// libbpf's messages (verifier logs among them) are collected for error messages instead
// of printed: libbpf's own hints ("raise ulimit -l") are often about something else.
// libbpf has one print callback for the whole process, and it prints on the thread
// that made the call: a LibbpfLog collects what is printed on its own thread while it
// lives, so workers loading programs at the same time each get their own messages.
#pragma once
#include <stdarg.h>

#include <string>

namespace tapwire {

class LibbpfLog {
 public:
  // Routes libbpf's output here; once per process is enough, more is harmless.
  static void Route();

  // Collects this thread's libbpf messages until destroyed.
  LibbpfLog();
  ~LibbpfLog();
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;

  // The messages, each whole. Past kKeep bytes the start is dropped: a verifier log
  // ends with the instruction it refused and why.
  const std::string& text() const { return text_; }

  static constexpr size_t kKeep = 64 * 1024;

 private:
  static int Print(int level, const char* format, va_list args);
  void Append(const char* format, va_list args);

  std::string text_;
  LibbpfLog* outer_;  // the collector this one hides, if any
};

}  // namespace tapwire
