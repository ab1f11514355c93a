// kvCopyBlocks: copies whole blocks of one layer's paged KV cache, for copy-on-write (a sequence about to
// append into a block it shares with a fork gets a private copy first, as in vLLM). A block is contiguous
// in both K and V (layout: attention/attention.h), so each copy is one memcpy per array.
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

struct KvCopyBlocksArgs {
  uint16_t* k_cache;      // (num_blocks, n_kv_heads, head_dim, block_size) f16
  uint16_t* v_cache;      // (num_blocks, n_kv_heads, block_size, head_dim) f16
  const int32_t* copies;  // (n, 2) [source block, destination block], read when the work runs
  int32_t* status;        // (2) or null
  int64_t num_blocks, block_elems, n;
};

void kv_copy_blocks(const KvCopyBlocksArgs& a) {
  RowErrors errors;
  const size_t bytes = static_cast<size_t>(a.block_elems) * sizeof(uint16_t);
  for (int64_t i = 0; i < a.n; i++) {
    const int32_t src = a.copies[2 * i], dst = a.copies[2 * i + 1];
    if (src < 0 || src >= a.num_blocks || dst < 0 || dst >= a.num_blocks) {
      errors.add(i);
      continue;
    }
    if (src == dst) continue;
    std::memcpy(a.k_cache + dst * a.block_elems, a.k_cache + src * a.block_elems, bytes);
    std::memcpy(a.v_cache + dst * a.block_elems, a.v_cache + src * a.block_elems, bytes);
  }
  errors.publish(a.status);
}

// kvCopyBlocks(kCache, vCache, numBlocks, blockSize, nKvHeads, headDim, copies, n, status?)
Work PrepareKvCopyBlocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  KvCopyBlocksArgs a{};
  a.num_blocks = int_arg(info, 2, "numBlocks", 1, INT32_MAX);
  const int64_t block_size = int_arg(info, 3, "blockSize", 1, 1 << 16);
  const int64_t n_kv_heads = int_arg(info, 4, "nKvHeads", 1, 1 << 12);
  const int64_t head_dim = int_arg(info, 5, "headDim", 1, kMaxAttentionHeadDim);
  a.n = int_arg(info, 7, "n", 0, INT32_MAX / 2);
  a.block_elems = static_cast<int64_t>(
      checked_mul(env, block_size, checked_mul(env, n_kv_heads, head_dim, "nKvHeads * headDim"), "block size"));
  const size_t cache_elems = checked_mul(env, a.num_blocks, a.block_elems, "KV cache size");
  auto k_cache = u16_arg(info, 0, "kCache", cache_elems);
  auto v_cache = u16_arg(info, 1, "vCache", cache_elems);
  auto copies = i32_arg(info, 6, "copies", static_cast<size_t>(2 * a.n));
  a.status = optional_status_arg(info, 8);
  check_disjoint(env, k_cache.data, cache_elems * 2, "kCache", v_cache.data, cache_elems * 2, "vCache");
  a.k_cache = k_cache.data;
  a.v_cache = v_cache.data;
  a.copies = copies.data;
  return [a] { kv_copy_blocks(a); };
}

void Init(Napi::Env env, Napi::Object exports) { export_kernel(env, exports, "kvCopyBlocks", PrepareKvCopyBlocks); }

}  // namespace
}  // namespace ternion

TERNION_MODULE(kv_copy_blocks, ternion::Init);
