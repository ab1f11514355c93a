// Attention over a paged KV cache (vLLM PagedAttention: Kwon et al., "Efficient Memory Management for Large
// Language Model Serving with PagedAttention", SOSP 2023) and the kernel that writes K/V rows into it.
//
// One layer's K and V live in two f16 arrays (the "arena"), cut into blocks of `block_size` token positions.
// A block is contiguous in both arrays (a copy-on-write block copy is one memcpy per array), but K and V
// order their elements differently, each for the loop that reads it:
//
//   k_cache  (num_blocks, n_kv_heads, head_dim, block_size)  dimension-major: for one dimension d, the
//            block's positions are adjacent, so q·k for 16 positions is one FMA per d with q[d] broadcast
//            (the scores come out as a vector over positions; no horizontal sums).
//   v_cache  (num_blocks, n_kv_heads, block_size, head_dim)  position-major: p·V adds one broadcast
//            probability times a contiguous V row.
//
// The int8 variant stores the same layouts as int8 with one f32 scale per (block, kv head, position) for K
// and for V: value = int8 · scale, scale = max|row| / 127 over that token's head_dim values (symmetric
// round-to-nearest-even quantisation, one scale per row as llama.cpp's Q8_0 has one per 32 values). It
// halves the bytes decode attention streams.
//   k_scales, v_scales  (num_blocks, n_kv_heads, block_size)
//
// A sequence maps position pos to block block_table[pos / block_size], offset pos % block_size; the slot
// number kv_write takes is block * block_size + pos % block_size.
#pragma once

#include <cstdint>

namespace ternion {

// Longest head the kernels accept; the per-head accumulators live on the stack (no allocation per call).
constexpr int64_t kMaxAttentionHeadDim = 512;
// Most heads paged_attention_kv_heads_avx512 walks together (its accumulators: 16 × 512 floats of stack).
constexpr int64_t kMaxBlockwiseHeads = 16;

struct PagedAttentionArgs {
  const float* q;               // (n, n_heads, head_dim)
  const void* k_cache;          // (num_blocks, n_kv_heads, head_dim, block_size) f16 (uint16_t) or int8
  const void* v_cache;          // (num_blocks, n_kv_heads, block_size, head_dim) f16 (uint16_t) or int8
  const float* k_scales;        // (num_blocks, n_kv_heads, block_size) int8 caches only, else null
  const float* v_scales;        // (num_blocks, n_kv_heads, block_size) int8 caches only, else null
  float* out;                   // (n, n_heads, head_dim)
  bool int8;                    // the caches hold int8 with scales (else f16)
  int64_t num_blocks;
  int64_t block_size;
  int64_t n_heads;
  int64_t n_kv_heads;
  int64_t head_dim;
  float scale;
  // Reproduce llama.cpp's CPU rounding (f16 caches only): the softmax probabilities are normalised and rounded
  // to f16 before p·V, as its non-flash path does when it multiplies them by the f16 V cache. Runs the scalar
  // two-pass paged_attention_heads_f16_probs on every ISA. (Its Q rounding is the caller's: round q first.)
  bool f16_probs = false;
};

// Attention of token `token` for query heads [head_begin, head_begin + head_count), which must all share one
// KV head (GQA: head h reads kv head h / (n_heads / n_kv_heads)). It attends to positions [0, num_positions)
// of the sequence whose block ids are `block_table[0 .. ceil(num_positions / block_size))`. Each block id is
// read once and range-checked before use; on an id outside [0, num_blocks) the function returns false and
// the output rows are left unspecified (the caller zeroes them). Softmax in f32 with a running maximum
// (online softmax: Milakov & Gimelshein 2018, as in FlashAttention), so no buffer of length num_positions.
//
// `next` (may be null) names the unit the same thread runs after this one. In a decode batch of short
// contexts a unit reads only a few scattered blocks, too few for prefetching inside the unit to hide DRAM
// latency, so a kernel that prefetches carries on into the next unit's first blocks while it finishes its
// own; kernels that do not prefetch ignore it.
struct NextUnit {
  bool prefetched;             // the previous unit on this thread already prefetched this unit's first blocks
  const int32_t* block_table;  // the next unit's block ids (its sequence's row), or null when there is none
  int64_t num_positions;       // positions the next unit attends to
  int64_t kv_head;             // the next unit's KV head
};

using PagedAttentionHeadsFn = bool (*)(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                       int64_t num_positions, int64_t head_begin, int64_t head_count,
                                       const NextUnit* next);

bool paged_attention_heads_generic(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                   int64_t num_positions, int64_t head_begin, int64_t head_count, const NextUnit* next);
// Two passes like ggml's soft_max + mul_mat: scores, softmax normalised with the sum in double, probabilities
// rounded to f16, then p·V (f16 caches only).
bool paged_attention_heads_f16_probs(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                     int64_t num_positions, int64_t head_begin, int64_t head_count,
                                     const NextUnit* next);
bool paged_attention_heads_avx2(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                int64_t num_positions, int64_t head_begin, int64_t head_count, const NextUnit* next);
bool paged_attention_heads_avx512(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                  int64_t num_positions, int64_t head_begin, int64_t head_count, const NextUnit* next);

// Without GQA (n_heads == n_kv_heads) only: heads [head_begin, head_begin + head_count) of one token,
// head_count <= kMaxBlockwiseHeads (the dispatcher's units never hold more), walked block by block with the heads inside so each block's K and V are read as one
// contiguous run (see attention_avx512.cc). Same contract as the functions above otherwise.
bool paged_attention_kv_heads_avx512(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                     int64_t num_positions, int64_t head_begin, int64_t head_count,
                                     const NextUnit* next);

}  // namespace ternion
