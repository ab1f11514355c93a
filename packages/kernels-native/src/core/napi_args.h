// Argument checking at the N-API boundary. Every kernel binding reads its arguments through these, so a bad
// call throws a JS TypeError/RangeError naming the argument and what was expected, never crashes.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ternion {

[[noreturn]] void throw_type_error(Napi::Env env, const std::string& msg);
[[noreturn]] void throw_range_error(Napi::Env env, const std::string& msg);

// Bytes of a TypedArray, DataView, Buffer or ArrayBuffer argument. Throws TypeError if the argument is none
// of these or its buffer is detached; RangeError if it holds fewer than `min_bytes`.
struct ByteView {
  uint8_t* data;
  size_t bytes;
};
ByteView bytes_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_bytes = 0);

// Elements of a TypedArray of exactly `type` (e.g. napi_float32_array). Throws TypeError on another type or
// a detached buffer, RangeError if it holds fewer than `min_elems` elements.
template <typename T>
struct ArrayView {
  T* data;
  size_t length;
};
ArrayView<void> typed_arg(const Napi::CallbackInfo& info, size_t index, const char* name, napi_typedarray_type type,
                          size_t min_elems);

inline ArrayView<float> f32_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_elems) {
  auto v = typed_arg(info, index, name, napi_float32_array, min_elems);
  return {static_cast<float*>(v.data), v.length};
}
inline ArrayView<int8_t> i8_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_elems) {
  auto v = typed_arg(info, index, name, napi_int8_array, min_elems);
  return {static_cast<int8_t*>(v.data), v.length};
}
inline ArrayView<uint8_t> u8_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_elems) {
  auto v = typed_arg(info, index, name, napi_uint8_array, min_elems);
  return {static_cast<uint8_t*>(v.data), v.length};
}
inline ArrayView<uint16_t> u16_arg(const Napi::CallbackInfo& info, size_t index, const char* name,
                                   size_t min_elems) {
  auto v = typed_arg(info, index, name, napi_uint16_array, min_elems);
  return {static_cast<uint16_t*>(v.data), v.length};
}
inline ArrayView<double> f64_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_elems) {
  auto v = typed_arg(info, index, name, napi_float64_array, min_elems);
  return {static_cast<double*>(v.data), v.length};
}
inline ArrayView<int32_t> i32_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_elems) {
  auto v = typed_arg(info, index, name, napi_int32_array, min_elems);
  return {static_cast<int32_t*>(v.data), v.length};
}

// An integer Number in [min, max]; TypeError if not a finite integer, RangeError if out of range.
int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max);
// A finite Number; TypeError otherwise.
double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name);
// A boolean, or `fallback` when the argument is undefined.
bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name, bool fallback);

// a * b with an overflow check (RangeError naming `what`).
size_t checked_mul(Napi::Env env, size_t a, size_t b, const char* what);

}  // namespace ternion
