// pagedAttention: softmax(scale · q·Kᵀ) · V for a batch of tokens, each reading its own sequence's K/V
// through a block table (layout: attention/attention.h). One call serves a prefill chunk (several tokens of
// one sequence; causal because token i sees positions 0..tokenPos[i]) and a decode batch (one token of each
// of many sequences) alike. pagedAttentionI8 does the same over int8 caches with per-row scales.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "attention/args.h"
#include "attention/attention.h"
#include "attention/row_errors.h"
#include "core/isa.h"
#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"
#include "core/work.h"

namespace ternion {
namespace {

PagedAttentionHeadsFn pick_paged_attention() { return TERNION_PICK(paged_attention_heads); }

// The kernel for units whose heads span several KV heads (no GQA), or null where there is none.
PagedAttentionHeadsFn pick_kv_heads() {
#ifdef TERNION_X86
  if (active_isa() == Isa::kAvx512) return paged_attention_kv_heads_avx512;
#endif
  return nullptr;
}

struct PagedAttentionCall {
  PagedAttentionArgs kernel;
  const int32_t* block_tables;  // (num_seqs, max_blocks_per_seq) read when the work runs
  const int32_t* token_seq;     // (n) read when the work runs
  const int32_t* token_pos;     // (n) read when the work runs
  int32_t* status;              // (2) or null
  int64_t num_seqs, max_blocks_per_seq, n;
};

// Work ranges per thread for the pool to hand out: enough that a thread starting late (the machine is shared)
// leaves little behind, few enough that each range is a long run of units (prefetching carries over from one
// unit to the next only within a range).
constexpr int64_t kRangesPerThread = 4;
constexpr int64_t kMaxRanges = 64;
// A unit's fixed cost (setup, softmax bookkeeping, the first block's latency) in positions' worth of work.
constexpr int64_t kUnitOverheadPositions = 16;
// The block-wise kernel (paged_attention_kv_heads_avx512) runs decode batches whose tokens see at least this
// many positions on average. It streams cold K/V faster (1 token × 2048 positions: 0.74× the time on 2
// threads; 16 × 30..300: 0.84×), but measured slower on short contexts (16 × 12..60: 1.05×), on a causal
// prefill chunk (1.15×), whose tokens re-read one sequence's K/V from cache, and on cache-hot K/V.
constexpr int64_t kBlockwiseMinPositions = 128;

// True when no two neighbouring tokens belong to one sequence (a decode batch: a prefill chunk's tokens are
// adjacent) and the tokens attend to at least `min_positions` positions on average.
bool long_decode_batch(const int32_t* token_seq, const int32_t* token_pos, int64_t n, int64_t min_positions) {
  int64_t positions = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i > 0 && token_seq[i] == token_seq[i - 1]) return false;
    positions += token_pos[i] > 0 ? token_pos[i] + 1 : 1;
  }
  return n > 0 && positions >= min_positions * n;
}

void paged_attention(const PagedAttentionCall& c) {
  const PagedAttentionArgs& a = c.kernel;
  const PagedAttentionHeadsFn heads_fn = a.f16_probs ? paged_attention_heads_f16_probs : pick_paged_attention();
  const int64_t group = a.n_heads / a.n_kv_heads;  // query heads per KV head
  // A work unit is a token and a run of query heads sharing one KV head, so K/V rows are converted once for
  // all of them. With few tokens (decode) the runs are split until there are a few units per thread.
  // Without GQA the AVX-512 level takes runs of heads of different KV heads instead for long decode batches
  // (one contiguous read per block for all of them), shortened likewise.
  ThreadPool& pool = ThreadPool::instance();
  const int64_t threads = pool.threads();
  const PagedAttentionHeadsFn kv_heads_fn =
      group == 1 && !a.f16_probs && long_decode_batch(c.token_seq, c.token_pos, c.n, kBlockwiseMinPositions)
          ? pick_kv_heads()
          : nullptr;
  int64_t heads_per_unit = 0, units_per_kv_head = 1, units_per_token = 0;
  if (kv_heads_fn != nullptr) {
    heads_per_unit = std::min(kMaxBlockwiseHeads, a.n_heads);
    while (heads_per_unit > 1 && c.n * ((a.n_heads + heads_per_unit - 1) / heads_per_unit) < 4 * threads) {
      heads_per_unit = (heads_per_unit + 1) / 2;
    }
    units_per_token = (a.n_heads + heads_per_unit - 1) / heads_per_unit;
  } else {
    int64_t splits = 1;
    while (splits < group && c.n * a.n_kv_heads * splits < 4 * threads) splits *= 2;
    heads_per_unit = (group + splits - 1) / splits;
    units_per_kv_head = (group + heads_per_unit - 1) / heads_per_unit;
    units_per_token = a.n_kv_heads * units_per_kv_head;
  }
  const PagedAttentionHeadsFn unit_fn = kv_heads_fn != nullptr ? kv_heads_fn : heads_fn;
  const int64_t num_units = c.n * units_per_token;
  // The first query head of unit `u`; returns how many it has.
  const auto unit_heads = [&](int64_t u, int64_t* head_begin) -> int64_t {
    const int64_t w = u % units_per_token;
    const int64_t part = w % units_per_kv_head;
    *head_begin = kv_heads_fn != nullptr ? w * heads_per_unit : w / units_per_kv_head * group + part * heads_per_unit;
    const int64_t left = kv_heads_fn != nullptr ? a.n_heads - *head_begin : group - part * heads_per_unit;
    return std::min(heads_per_unit, left);
  };
  // Positions token `token` attends to (its position + 1) and its block table row, or 0 when its sequence
  // row or position is out of range.
  const auto locate = [&](int64_t token, const int32_t** table) -> int64_t {
    const int32_t seq = c.token_seq[token];
    const int32_t pos = c.token_pos[token];
    if (seq < 0 || seq >= c.num_seqs || pos < 0 || pos / a.block_size >= c.max_blocks_per_seq) return 0;
    *table = c.block_tables + seq * c.max_blocks_per_seq;
    return static_cast<int64_t>(pos) + 1;
  };
  RowErrors errors;
  // Units [begin, end) in order, each told which unit follows it on this thread so it can prefetch that
  // unit's first K/V blocks (a decode batch of short contexts is a long run of small scattered reads).
  const auto run_units = [&](int64_t begin, int64_t end) {
    const int32_t* table = nullptr;
    int64_t positions = begin < end ? locate(begin / units_per_token, &table) : 0;
    for (int64_t u = begin; u < end; u++) {
      const int64_t token = u / units_per_token;
      int64_t head_begin = 0;
      const int64_t head_count = unit_heads(u, &head_begin);
      NextUnit next{u > begin, nullptr, 0, 0};
      const int32_t* next_table = nullptr;
      const int64_t next_positions = u + 1 < end ? locate((u + 1) / units_per_token, &next_table) : 0;
      if (next_positions > 0) {
        int64_t next_head = 0;
        unit_heads(u + 1, &next_head);
        next.block_table = next_table;
        next.num_positions = next_positions;
        next.kv_head = next_head / group;
      }
      const bool ok = positions > 0 && unit_fn(a, token, table, positions, head_begin, head_count, &next);
      if (!ok) {
        std::memset(a.out + (token * a.n_heads + head_begin) * a.head_dim, 0,
                    static_cast<size_t>(head_count * a.head_dim) * sizeof(float));
        if (head_begin == 0) errors.add(token);  // count each token once
      }
      table = next_table;
      positions = next_positions;
    }
  };
  // Contiguous ranges of equal cost, so the units of a causal prefill chunk (later tokens see more positions)
  // and of a decode batch of mixed context lengths split evenly. A range keeps whole runs of units, which
  // read one sequence's blocks in turn. When there are enough (token, KV head) pairs to go round, ranges also
  // keep together the units that split one KV head's query heads, so its K/V come from DRAM once.
  const int64_t num_ranges = std::min(num_units, std::min(kRangesPerThread * threads, kMaxRanges));
  if (num_ranges <= 1 || threads <= 1) {
    run_units(0, num_units);
    errors.publish(c.status);
    return;
  }
  double total = 0.0;
  for (int64_t token = 0; token < c.n; token++) {
    const int32_t* table = nullptr;
    total += static_cast<double>((locate(token, &table) + kUnitOverheadPositions) * units_per_token);
  }
  const int64_t align = c.n * a.n_kv_heads >= 2 * threads ? units_per_kv_head : 1;  // range starts: multiples
  int64_t starts[kMaxRanges + 1];  // (num_ranges + 1) first unit of each range, then num_units
  starts[0] = 0;
  int64_t r = 1;
  double done = 0.0;
  for (int64_t token = 0; token < c.n && r < num_ranges; token++) {
    const int32_t* table = nullptr;
    const double cost = static_cast<double>(locate(token, &table) + kUnitOverheadPositions);
    for (int64_t u = token * units_per_token; u < (token + 1) * units_per_token && r < num_ranges; u++) {
      done += cost;
      if ((u + 1) % align != 0) continue;
      while (r < num_ranges && done * static_cast<double>(num_ranges) >= total * static_cast<double>(r)) {
        starts[r++] = u + 1;
      }
    }
  }
  while (r <= num_ranges) starts[r++] = num_units;
  pool.parallel_for(num_ranges, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; i++) run_units(starts[i], starts[i + 1]);
  });
  errors.publish(c.status);
}

// Shapes, batch buffers and output: the arguments both cache formats share. `c` (caches) is the index of
// the last cache argument: 2 for f16 (kCache, vCache), 4 for int8 (kCache, kScales, vCache, vScales).
void prepare_common(const Napi::CallbackInfo& info, size_t c, PagedAttentionCall* call, size_t* cache_elems,
                    size_t* qo_elems) {
  Napi::Env env = info.Env();
  PagedAttentionArgs& a = call->kernel;
  a.num_blocks = int_arg(info, c + 1, "numBlocks", 1, INT32_MAX);
  a.block_size = int_arg(info, c + 2, "blockSize", 1, 1 << 16);
  a.n_heads = int_arg(info, c + 3, "nHeads", 1, 1 << 12);
  a.n_kv_heads = int_arg(info, c + 4, "nKvHeads", 1, 1 << 12);
  a.head_dim = int_arg(info, c + 5, "headDim", 1, kMaxAttentionHeadDim);
  if (a.n_heads % a.n_kv_heads != 0) {
    throw_range_error(env, "nHeads (" + std::to_string(a.n_heads) + ") must be a multiple of nKvHeads (" +
                               std::to_string(a.n_kv_heads) + ")");
  }
  call->max_blocks_per_seq = int_arg(info, c + 7, "maxBlocksPerSeq", 1, INT32_MAX);
  call->n = int_arg(info, c + 10, "n", 0, INT32_MAX);
  a.scale = static_cast<float>(number_arg(info, c + 11, "scale"));
  *cache_elems = checked_mul(env, checked_mul(env, a.num_blocks, a.block_size, "numBlocks * blockSize"),
                             checked_mul(env, a.n_kv_heads, a.head_dim, "nKvHeads * headDim"), "KV cache size");
  *qo_elems = checked_mul(env, call->n, checked_mul(env, a.n_heads, a.head_dim, "nHeads * headDim"),
                          "n * nHeads * headDim");
  auto q = f32_arg(info, 0, "q", *qo_elems);
  auto tables = i32_arg(info, c + 6, "blockTables", static_cast<size_t>(call->max_blocks_per_seq));
  auto token_seq = i32_arg(info, c + 8, "tokenSeq", call->n);
  auto token_pos = i32_arg(info, c + 9, "tokenPos", call->n);
  auto out = f32_arg(info, c + 12, "out", *qo_elems);
  call->status = optional_status_arg(info, c + 13);
  check_disjoint(env, out.data, *qo_elems * 4, "out", q.data, *qo_elems * 4, "q");
  a.q = q.data;
  a.out = out.data;
  call->block_tables = tables.data;
  call->num_seqs = static_cast<int64_t>(tables.length) / call->max_blocks_per_seq;
  call->token_seq = token_seq.data;
  call->token_pos = token_pos.data;
}

// pagedAttention(q, kCache, vCache, numBlocks, blockSize, nHeads, nKvHeads, headDim, blockTables,
//                maxBlocksPerSeq, tokenSeq, tokenPos, n, scale, out, status?, f16Probs?)
Work PreparePagedAttention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PagedAttentionCall c{};
  size_t cache_elems = 0, qo_elems = 0;
  prepare_common(info, 2, &c, &cache_elems, &qo_elems);
  c.kernel.f16_probs = bool_arg(info, 16, "f16Probs", false);
  auto k_cache = u16_arg(info, 1, "kCache", cache_elems);
  auto v_cache = u16_arg(info, 2, "vCache", cache_elems);
  check_disjoint(env, c.kernel.out, qo_elems * 4, "out", k_cache.data, cache_elems * 2, "kCache");
  check_disjoint(env, c.kernel.out, qo_elems * 4, "out", v_cache.data, cache_elems * 2, "vCache");
  c.kernel.k_cache = k_cache.data;
  c.kernel.v_cache = v_cache.data;
  return [c] { paged_attention(c); };
}

// pagedAttentionI8(q, kCache, kScales, vCache, vScales, numBlocks, blockSize, nHeads, nKvHeads, headDim,
//                  blockTables, maxBlocksPerSeq, tokenSeq, tokenPos, n, scale, out, status?)
Work PreparePagedAttentionI8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PagedAttentionCall c{};
  size_t cache_elems = 0, qo_elems = 0;
  prepare_common(info, 4, &c, &cache_elems, &qo_elems);
  const size_t scale_elems = cache_elems / static_cast<size_t>(c.kernel.head_dim);
  auto k_cache = i8_arg(info, 1, "kCache", cache_elems);
  auto k_scales = f32_arg(info, 2, "kScales", scale_elems);
  auto v_cache = i8_arg(info, 3, "vCache", cache_elems);
  auto v_scales = f32_arg(info, 4, "vScales", scale_elems);
  check_disjoint(env, c.kernel.out, qo_elems * 4, "out", k_cache.data, cache_elems, "kCache");
  check_disjoint(env, c.kernel.out, qo_elems * 4, "out", v_cache.data, cache_elems, "vCache");
  check_disjoint(env, c.kernel.out, qo_elems * 4, "out", k_scales.data, scale_elems * 4, "kScales");
  check_disjoint(env, c.kernel.out, qo_elems * 4, "out", v_scales.data, scale_elems * 4, "vScales");
  c.kernel.k_cache = k_cache.data;
  c.kernel.v_cache = v_cache.data;
  c.kernel.k_scales = k_scales.data;
  c.kernel.v_scales = v_scales.data;
  c.kernel.int8 = true;
  return [c] { paged_attention(c); };
}

void Init(Napi::Env env, Napi::Object exports) {
  export_kernel(env, exports, "pagedAttention", PreparePagedAttention);
  export_kernel(env, exports, "pagedAttentionI8", PreparePagedAttentionI8);
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(paged_attention, ternion::Init);
TERNION_KERNEL(paged_attention, "generic", "avx2", "avx512");
