// kvCopyBlocks: copies whole blocks of one layer's paged KV cache, for copy-on-write (a sequence about to
// append into a block it shares with a fork gets a private copy first, as in vLLM). A block is contiguous
// in every array of the cache (layout: attention/attention.h), so each copy is one memcpy per array:
// K and V for f16 caches (kvCopyBlocks), K, K scales, V and V scales for int8 ones (kvCopyBlocksI8).
#include <napi.h>

#include <cstdint>
#include <cstring>

#include "attention/args.h"
#include "attention/attention.h"
#include "attention/row_errors.h"
#include "core/napi_args.h"
#include "core/registry.h"
#include "core/work.h"

namespace ternion {
namespace {

constexpr int kMaxArrays = 4;

struct KvCopyBlocksArgs {
  uint8_t* arrays[kMaxArrays];      // each (num_blocks, block_bytes[i])
  size_t block_bytes[kMaxArrays];
  int num_arrays;
  const int32_t* copies;  // (n, 2) [source block, destination block], read when the work runs
  int32_t* status;        // (2) or null
  int64_t num_blocks, n;
};

void kv_copy_blocks(const KvCopyBlocksArgs& a) {
  RowErrors errors;
  for (int64_t i = 0; i < a.n; i++) {
    const int32_t src = a.copies[2 * i], dst = a.copies[2 * i + 1];
    if (src < 0 || src >= a.num_blocks || dst < 0 || dst >= a.num_blocks) {
      errors.add(i);
      continue;
    }
    if (src == dst) continue;
    for (int j = 0; j < a.num_arrays; j++) {
      const size_t bytes = a.block_bytes[j];
      std::memcpy(a.arrays[j] + static_cast<size_t>(dst) * bytes, a.arrays[j] + static_cast<size_t>(src) * bytes, bytes);
    }
  }
  errors.publish(a.status);
}

// The shape arguments follow the `num_arrays` cache arrays; `copies`, `n` and `status` follow the shape.
KvCopyBlocksArgs prepare_shape(const Napi::CallbackInfo& info, size_t c, int64_t* block_elems, int64_t* scales_per_block) {
  Napi::Env env = info.Env();
  KvCopyBlocksArgs a{};
  a.num_blocks = int_arg(info, c, "numBlocks", 1, INT32_MAX);
  const int64_t block_size = int_arg(info, c + 1, "blockSize", 1, 1 << 16);
  const int64_t n_kv_heads = int_arg(info, c + 2, "nKvHeads", 1, 1 << 12);
  const int64_t head_dim = int_arg(info, c + 3, "headDim", 1, kMaxAttentionHeadDim);
  a.n = int_arg(info, c + 5, "n", 0, INT32_MAX / 2);
  *scales_per_block = block_size * n_kv_heads;
  *block_elems = static_cast<int64_t>(checked_mul(env, static_cast<size_t>(*scales_per_block), head_dim, "block size"));
  checked_mul(env, a.num_blocks, static_cast<size_t>(*block_elems) * 4, "KV cache size");
  a.copies = i32_arg(info, c + 4, "copies", static_cast<size_t>(2 * a.n)).data;
  a.status = optional_status_arg(info, c + 6);
  return a;
}

// kvCopyBlocks(kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, copies, n, status?)
Work PrepareKvCopyBlocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t block_elems = 0, scales = 0;
  KvCopyBlocksArgs a = prepare_shape(info, 2, &block_elems, &scales);
  const size_t cache_elems = static_cast<size_t>(a.num_blocks * block_elems);
  auto k_cache = u16_arg(info, 0, "kCache", cache_elems);
  auto v_cache = u16_arg(info, 1, "vCache", cache_elems);
  check_disjoint(env, k_cache.data, cache_elems * 2, "kCache", v_cache.data, cache_elems * 2, "vCache");
  a.num_arrays = 2;
  a.arrays[0] = reinterpret_cast<uint8_t*>(k_cache.data);
  a.arrays[1] = reinterpret_cast<uint8_t*>(v_cache.data);
  a.block_bytes[0] = a.block_bytes[1] = static_cast<size_t>(block_elems) * sizeof(uint16_t);
  return [a] { kv_copy_blocks(a); };
}

// kvCopyBlocksI8(kCache, kScales, vCache, vScales, numBlocks, blockSize, nKvHeads, headDim, copies, n, status?)
Work PrepareKvCopyBlocksI8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t block_elems = 0, scales = 0;
  KvCopyBlocksArgs a = prepare_shape(info, 4, &block_elems, &scales);
  const size_t cache_elems = static_cast<size_t>(a.num_blocks * block_elems);
  const size_t scale_elems = static_cast<size_t>(a.num_blocks * scales);
  auto k_cache = i8_arg(info, 0, "kCache", cache_elems);
  auto k_scales = f32_arg(info, 1, "kScales", scale_elems);
  auto v_cache = i8_arg(info, 2, "vCache", cache_elems);
  auto v_scales = f32_arg(info, 3, "vScales", scale_elems);
  check_disjoint(env, k_cache.data, cache_elems, "kCache", v_cache.data, cache_elems, "vCache");
  check_disjoint(env, k_scales.data, scale_elems * 4, "kScales", v_scales.data, scale_elems * 4, "vScales");
  a.num_arrays = 4;
  a.arrays[0] = reinterpret_cast<uint8_t*>(k_cache.data);
  a.arrays[1] = reinterpret_cast<uint8_t*>(k_scales.data);
  a.arrays[2] = reinterpret_cast<uint8_t*>(v_cache.data);
  a.arrays[3] = reinterpret_cast<uint8_t*>(v_scales.data);
  a.block_bytes[0] = a.block_bytes[2] = static_cast<size_t>(block_elems);
  a.block_bytes[1] = a.block_bytes[3] = static_cast<size_t>(scales) * sizeof(float);
  return [a] { kv_copy_blocks(a); };
}

void Init(Napi::Env env, Napi::Object exports) {
  export_kernel(env, exports, "kvCopyBlocks", PrepareKvCopyBlocks);
  export_kernel(env, exports, "kvCopyBlocksI8", PrepareKvCopyBlocksI8);
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(kv_copy_blocks, ternion::Init);
