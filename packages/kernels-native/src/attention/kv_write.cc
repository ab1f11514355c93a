// kvWrite: stores the K and V rows of N new tokens into their slots of one layer's paged KV cache, rounding
// f32 to f16 (nearest even, as vcvtps2ph and llama.cpp's F16 cache do). kvWriteI8 stores int8 with one
// scale per (token, head) row instead. Layouts: see attention/attention.h.
#include <napi.h>

#include <cmath>
#include <cstdint>

#include "attention/args.h"
#include "attention/attention.h"
#include "attention/kv_write.h"
#include "attention/row_errors.h"
#include "common/fp16.h"
#include "core/isa.h"
#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"
#include "core/work.h"

namespace ternion {

void kv_write_row_generic(const float* k, const float* v, int64_t head_dim, uint16_t* k_dst, int64_t k_stride,
                          uint16_t* v_dst) {
  for (int64_t d = 0; d < head_dim; d++) k_dst[d * k_stride] = f32_to_fp16(k[d]);
  for (int64_t d = 0; d < head_dim; d++) v_dst[d] = f32_to_fp16(v[d]);
}

namespace {

// F16C comes with AVX2, so the AVX-512 level uses the same row kernel.
KvWriteRowFn pick_kv_write_row() {
#ifdef TERNION_X86
  return pick_for_isa(kv_write_row_generic, kv_write_row_avx2, kv_write_row_avx2);
#else
  return kv_write_row_generic;
#endif
}

// Below this many values per array (n · n_kv_heads · head_dim) a write runs on the calling thread: waking
// the pool would cost more than it saves (one decode token of a small model is a few thousand values).
constexpr int64_t kParallelValues = 4096;

// The dimensions both write kernels share (checked by kv_write_shape).
struct KvWriteDims {
  int64_t num_blocks, block_size, n_kv_heads, head_dim, n;
};

struct KvWriteArgs : KvWriteDims {
  uint16_t* k_cache;    // (num_blocks, n_kv_heads, head_dim, block_size) f16
  uint16_t* v_cache;    // (num_blocks, n_kv_heads, block_size, head_dim) f16
  const float* k;       // (n, n_kv_heads, head_dim)
  const float* v;       // (n, n_kv_heads, head_dim)
  const int32_t* slots; // (n) read when the work runs
  int32_t* status;      // (2) or null
};

struct KvWriteI8Args : KvWriteDims {
  int8_t* k_cache;      // (num_blocks, n_kv_heads, head_dim, block_size)
  float* k_scales;      // (num_blocks, n_kv_heads, block_size)
  int8_t* v_cache;      // (num_blocks, n_kv_heads, block_size, head_dim)
  float* v_scales;      // (num_blocks, n_kv_heads, block_size)
  const float* k;       // (n, n_kv_heads, head_dim)
  const float* v;       // (n, n_kv_heads, head_dim)
  const int32_t* slots; // (n) read when the work runs
  int32_t* status;      // (2) or null
};

// Symmetric int8 quantisation of one row: scale = max|x| / 127, q = x · (127 / max|x|) rounded to nearest
// even and clamped to [-127, 127] (a NaN becomes 0). Writes q[d] to dst[d * stride]; returns the scale.
float quantize_row_i8(const float* x, int64_t count, int8_t* dst, int64_t stride) {
  float amax = 0.0f;
  for (int64_t d = 0; d < count; d++) amax = std::fabs(x[d]) > amax ? std::fabs(x[d]) : amax;
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  for (int64_t d = 0; d < count; d++) {
    const float r = std::nearbyint(x[d] * inv);  // default rounding mode: nearest even
    dst[d * stride] = static_cast<int8_t>(r >= 127.0f ? 127 : r <= -127.0f ? -127 : r == r ? static_cast<int>(r) : 0);
  }
  return amax / 127.0f;
}

// Calls row(i, h, block, offset) for every token i whose slot is in range and every KV head h, where the
// slot is block * block_size + offset; tokens with a slot outside the cache are skipped and reported.
// Big writes (a prefill chunk, a batched decode step) split the KV heads over the pool; each thread takes
// the tokens in order, so when two tokens name one slot the later one still wins, as on one thread. Every
// thread checks every slot it uses, but only the one holding head 0 reports, so a bad slot counts once.
template <typename Args, typename Row>
void for_each_slot_row(const Args& a, Row row) {
  RowErrors errors;
  const int64_t capacity = a.num_blocks * a.block_size;
  const auto heads = [&](int64_t h0, int64_t h1, int) {
    for (int64_t i = 0; i < a.n; i++) {
      const int32_t slot = a.slots[i];
      if (slot < 0 || slot >= capacity) {
        if (h0 == 0) errors.add(i);
        continue;
      }
      for (int64_t h = h0; h < h1; h++) row(i, h, slot / a.block_size, slot % a.block_size);
    }
  };
  if (a.n * a.n_kv_heads * a.head_dim < kParallelValues) {
    heads(0, a.n_kv_heads, 0);
  } else {
    ThreadPool::instance().parallel_for(a.n_kv_heads, 1, [&](int64_t h0, int64_t h1, int w) { heads(h0, h1, w); });
  }
  errors.publish(a.status);
}

void kv_write_i8(const KvWriteI8Args& a) {
  const int64_t head_dim = a.head_dim, block_size = a.block_size;
  for_each_slot_row(a, [&](int64_t i, int64_t h, int64_t block, int64_t offset) {
    const int64_t row = (i * a.n_kv_heads + h) * head_dim;
    const int64_t base = (block * a.n_kv_heads + h) * head_dim * block_size;
    const int64_t scale = (block * a.n_kv_heads + h) * block_size + offset;
    a.k_scales[scale] = quantize_row_i8(a.k + row, head_dim, a.k_cache + base + offset, block_size);
    a.v_scales[scale] = quantize_row_i8(a.v + row, head_dim, a.v_cache + base + offset * head_dim, 1);
  });
}

void kv_write(const KvWriteArgs& a) {
  const int64_t head_dim = a.head_dim, block_size = a.block_size;
  const KvWriteRowFn write_row = pick_kv_write_row();
  for_each_slot_row(a, [&](int64_t i, int64_t h, int64_t block, int64_t offset) {
    const float* k = a.k + (i * a.n_kv_heads + h) * head_dim;  // (head_dim)
    const float* v = a.v + (i * a.n_kv_heads + h) * head_dim;  // (head_dim)
    uint16_t* k_dst = a.k_cache + (block * a.n_kv_heads + h) * head_dim * block_size + offset;  // stride block_size
    uint16_t* v_dst = a.v_cache + ((block * a.n_kv_heads + h) * block_size + offset) * head_dim;  // (head_dim)
    write_row(k, v, head_dim, k_dst, block_size, v_dst);
  });
}

// The shape arguments both write kernels take, checked, and the element counts they imply.
struct KvWriteShape : KvWriteDims {
  size_t slots_total;  // num_blocks * block_size
  size_t cache_elems;  // slots_total * n_kv_heads * head_dim
  size_t kv_elems;     // n * n_kv_heads * head_dim
};

// `dims` is the index of numBlocks (blockSize, nKvHeads, headDim follow); `n_index` that of n.
KvWriteShape kv_write_shape(const Napi::CallbackInfo& info, size_t dims, size_t n_index) {
  Napi::Env env = info.Env();
  KvWriteShape s{};
  s.num_blocks = int_arg(info, dims, "numBlocks", 1, INT32_MAX);
  s.block_size = int_arg(info, dims + 1, "blockSize", 1, 1 << 16);
  s.n_kv_heads = int_arg(info, dims + 2, "nKvHeads", 1, 1 << 12);
  s.head_dim = int_arg(info, dims + 3, "headDim", 1, kMaxAttentionHeadDim);
  s.n = int_arg(info, n_index, "n", 0, INT32_MAX);
  s.slots_total = checked_mul(env, s.num_blocks, s.block_size, "numBlocks * blockSize");
  if (s.slots_total > static_cast<size_t>(INT32_MAX)) {
    throw_range_error(env, "numBlocks * blockSize must be below 2^31 so every slot fits an Int32, got " +
                               std::to_string(s.slots_total));
  }
  const size_t row = checked_mul(env, s.n_kv_heads, s.head_dim, "nKvHeads * headDim");
  s.cache_elems = checked_mul(env, s.slots_total, row, "KV cache size");
  s.kv_elems = checked_mul(env, s.n, row, "n * nKvHeads * headDim");
  return s;
}

// kvWrite(kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, status?)
Work PrepareKvWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const KvWriteShape sh = kv_write_shape(info, 2, 9);
  KvWriteArgs a{};
  static_cast<KvWriteDims&>(a) = sh;
  const size_t cache_elems = sh.cache_elems, kv_elems = sh.kv_elems;
  auto k_cache = u16_arg(info, 0, "kCache", cache_elems);
  auto v_cache = u16_arg(info, 1, "vCache", cache_elems);
  auto k = f32_arg(info, 6, "k", kv_elems);
  auto v = f32_arg(info, 7, "v", kv_elems);
  auto slots = i32_arg(info, 8, "slots", a.n);
  a.status = optional_status_arg(info, 10);
  check_disjoint(env, k_cache.data, cache_elems * 2, "kCache", v_cache.data, cache_elems * 2, "vCache");
  a.k_cache = k_cache.data;
  a.v_cache = v_cache.data;
  a.k = k.data;
  a.v = v.data;
  a.slots = slots.data;
  return [a] { kv_write(a); };
}

// kvWriteI8(kCache, kScales, vCache, vScales, numBlocks, blockSize, nKvHeads, headDim, k, v, slots, n, status?)
Work PrepareKvWriteI8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const KvWriteShape sh = kv_write_shape(info, 4, 11);
  KvWriteI8Args a{};
  static_cast<KvWriteDims&>(a) = sh;
  const size_t cache_elems = sh.cache_elems, kv_elems = sh.kv_elems;
  const size_t scale_elems = checked_mul(env, sh.slots_total, a.n_kv_heads, "KV scales size");
  auto k_cache = i8_arg(info, 0, "kCache", cache_elems);
  auto k_scales = f32_arg(info, 1, "kScales", scale_elems);
  auto v_cache = i8_arg(info, 2, "vCache", cache_elems);
  auto v_scales = f32_arg(info, 3, "vScales", scale_elems);
  auto k = f32_arg(info, 8, "k", kv_elems);
  auto v = f32_arg(info, 9, "v", kv_elems);
  auto slots = i32_arg(info, 10, "slots", a.n);
  a.status = optional_status_arg(info, 12);
  check_disjoint(env, k_cache.data, cache_elems, "kCache", v_cache.data, cache_elems, "vCache");
  check_disjoint(env, k_scales.data, scale_elems * 4, "kScales", v_scales.data, scale_elems * 4, "vScales");
  a.k_cache = k_cache.data;
  a.k_scales = k_scales.data;
  a.v_cache = v_cache.data;
  a.v_scales = v_scales.data;
  a.k = k.data;
  a.v = v.data;
  a.slots = slots.data;
  return [a] { kv_write_i8(a); };
}

void Init(Napi::Env env, Napi::Object exports) {
  export_kernel(env, exports, "kvWrite", PrepareKvWrite);
  export_kernel(env, exports, "kvWriteI8", PrepareKvWriteI8);
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(kv_write, ternion::Init);
TERNION_KERNEL(kv_write, "generic", "avx2", "avx2");
