// Argument checks shared by the attention bindings (JS thread only).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/napi_args.h"

namespace ternion {

// An optional trailing status argument: undefined, or an Int32Array of at least 2 elements.
static inline int32_t* optional_status_arg(const Napi::CallbackInfo& info, size_t index) {
  if (info[index].IsUndefined()) return nullptr;
  return i32_arg(info, index, "status", 2).data;
}

// Throws RangeError when two argument buffers share bytes (a kernel writing one while reading the other
// would produce garbage).
static inline void check_disjoint(Napi::Env env, const void* a, size_t a_bytes, const char* a_name, const void* b,
                                  size_t b_bytes, const char* b_name) {
  const auto pa = reinterpret_cast<uintptr_t>(a);
  const auto pb = reinterpret_cast<uintptr_t>(b);
  if (pa < pb + b_bytes && pb < pa + a_bytes) {
    throw_range_error(env, std::string(a_name) + " and " + b_name + " must not overlap");
  }
}

}  // namespace ternion
