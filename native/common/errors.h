// Native errors carry the kernel's errno and the failing call; lib/errors.ts turns
// them into TapwireError subclasses, so policy (codes, advice) stays in TypeScript.
#pragma once
#include <napi.h>
#include <string>

namespace tapwire {

// `code` (a nativeCode, see NativeError in lib/errors.ts) says which step failed where
// the syscall alone does not, such as EFILTER for attaching a filter.
Napi::Error SystemError(Napi::Env env, const char* syscall, int err, const char* code = nullptr);
Napi::Error PlainError(Napi::Env env, const std::string& message, const char* code);

}  // namespace tapwire
