#include "errors.h"

#include <string.h>

namespace tapwire {

Napi::Error SystemError(Napi::Env env, const char* syscall, int err, const char* code) {
  std::string message = std::string(syscall) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (code) e.Set("nativeCode", Napi::String::New(env, code));
  return e;
}

Napi::Error PlainError(Napi::Env env, const std::string& message, const char* code) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("nativeCode", Napi::String::New(env, code));
  return e;
}

}  // namespace tapwire
