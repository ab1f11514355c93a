#include "core/napi_args.h"

#include <cmath>
#include <limits>

namespace ternion {

void throw_type_error(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
void throw_range_error(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

namespace {

const char* typed_array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array:
      return "Int8Array";
    case napi_uint8_array:
      return "Uint8Array";
    case napi_uint8_clamped_array:
      return "Uint8ClampedArray";
    case napi_int16_array:
      return "Int16Array";
    case napi_uint16_array:
      return "Uint16Array";
    case napi_int32_array:
      return "Int32Array";
    case napi_uint32_array:
      return "Uint32Array";
    case napi_float32_array:
      return "Float32Array";
    case napi_float64_array:
      return "Float64Array";
    case napi_bigint64_array:
      return "BigInt64Array";
    case napi_biguint64_array:
      return "BigUint64Array";
    default:
      return "TypedArray";
  }
}

std::string arg_label(size_t index, const char* name) {
  return std::string("argument ") + std::to_string(index) + " (" + name + ")";
}

bool is_detached(Napi::Env env, napi_value arraybuffer) {
  bool detached = false;
  napi_is_detached_arraybuffer(env, arraybuffer, &detached);
  return detached;
}

}  // namespace

ByteView bytes_arg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t min_bytes) {
  Napi::Env env = info.Env();
  Napi::Value v = info[index];
  ByteView view{nullptr, 0};
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    if (is_detached(env, ta.ArrayBuffer())) throw_type_error(env, arg_label(index, name) + ": its ArrayBuffer is detached");
    view.data = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    view.bytes = ta.ByteLength();
  } else if (v.IsDataView()) {
    auto dv = v.As<Napi::DataView>();
    if (is_detached(env, dv.ArrayBuffer())) throw_type_error(env, arg_label(index, name) + ": its ArrayBuffer is detached");
    view.data = static_cast<uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
    view.bytes = dv.ByteLength();
  } else if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    if (is_detached(env, ab)) throw_type_error(env, arg_label(index, name) + ": the ArrayBuffer is detached");
    view.data = static_cast<uint8_t*>(ab.Data());
    view.bytes = ab.ByteLength();
  } else {
    throw_type_error(env, arg_label(index, name) + ": expected a TypedArray, Buffer, DataView or ArrayBuffer");
  }
  if (view.bytes < min_bytes) {
    throw_range_error(env, arg_label(index, name) + ": holds " + std::to_string(view.bytes) +
                               " bytes, at least " + std::to_string(min_bytes) + " are needed");
  }
  return view;
}

ArrayView<void> typed_arg(const Napi::CallbackInfo& info, size_t index, const char* name, napi_typedarray_type type,
                          size_t min_elems) {
  Napi::Env env = info.Env();
  Napi::Value v = info[index];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw_type_error(env, arg_label(index, name) + ": expected a " + typed_array_name(type));
  }
  auto ta = v.As<Napi::TypedArray>();
  if (is_detached(env, ta.ArrayBuffer())) throw_type_error(env, arg_label(index, name) + ": its ArrayBuffer is detached");
  const size_t length = ta.ElementLength();
  if (length < min_elems) {
    throw_range_error(env, arg_label(index, name) + ": has " + std::to_string(length) + " elements, at least " +
                               std::to_string(min_elems) + " are needed");
  }
  return {static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), length};
}

int64_t int_arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max) {
  Napi::Env env = info.Env();
  Napi::Value v = info[index];
  if (!v.IsNumber()) throw_type_error(env, arg_label(index, name) + ": expected an integer");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d) throw_type_error(env, arg_label(index, name) + ": expected an integer");
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throw_range_error(env, arg_label(index, name) + ": " + std::to_string(static_cast<long long>(d)) +
                               " is outside [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<int64_t>(d);
}

double number_arg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Env env = info.Env();
  Napi::Value v = info[index];
  if (!v.IsNumber()) throw_type_error(env, arg_label(index, name) + ": expected a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw_type_error(env, arg_label(index, name) + ": expected a finite number");
  return d;
}

bool bool_arg(const Napi::CallbackInfo& info, size_t index, const char* name, bool fallback) {
  Napi::Value v = info[index];
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw_type_error(info.Env(), arg_label(index, name) + ": expected a boolean");
  return v.As<Napi::Boolean>().Value();
}

size_t checked_mul(Napi::Env env, size_t a, size_t b, const char* what) {
  if (a != 0 && b > std::numeric_limits<size_t>::max() / a) throw_range_error(env, std::string(what) + " overflows");
  return a * b;
}

}  // namespace ternion
