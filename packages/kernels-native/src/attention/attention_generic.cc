// Scalar reference of paged attention: the fallback on every CPU and the oracle the SIMD variants are tested
// against. One query head at a time, one position at a time, online softmax.
#include <cmath>
#include <vector>

#include "attention/attention.h"
#include "common/fp16.h"
#include "ops/ops_kernels.h"

namespace ternion {
namespace {

// Element `i` of a cache array as f32 (int8 values without their scale).
template <bool kInt8>
inline float cache_value(const void* cache, int64_t i) {
  if constexpr (kInt8) {
    return static_cast<float>(static_cast<const int8_t*>(cache)[i]);
  } else {
    return fp16_to_f32(static_cast<const uint16_t*>(cache)[i]);
  }
}

template <bool kInt8>
bool attend_heads(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table, int64_t num_positions,
                  int64_t head_begin, int64_t head_count) {
  const int64_t head_dim = a.head_dim, block_size = a.block_size;
  const int64_t kv_head = head_begin / (a.n_heads / a.n_kv_heads);
  const int64_t num_table_blocks = (num_positions + block_size - 1) / block_size;
  for (int64_t h = head_begin; h < head_begin + head_count; h++) {
    const float* q = a.q + (token * a.n_heads + h) * head_dim;  // (head_dim)
    float acc[kMaxAttentionHeadDim] = {};                        // (head_dim) sum of p·V, scaled to max `m`
    float m = -INFINITY;  // running maximum of the scores seen so far
    float l = 0.0f;       // running sum of exp(score - m)
    for (int64_t b = 0; b < num_table_blocks; b++) {
      const int32_t block = block_table[b];
      if (block < 0 || block >= a.num_blocks) return false;
      const int64_t base = (block * a.n_kv_heads + kv_head) * head_dim * block_size;  // K (head_dim, block_size), V (block_size, head_dim)
      const int64_t scales = (block * a.n_kv_heads + kv_head) * block_size;            // (block_size)
      const int64_t valid = num_positions - b * block_size < block_size ? num_positions - b * block_size : block_size;
      for (int64_t t = 0; t < valid; t++) {
        float dot = 0.0f;
        for (int64_t d = 0; d < head_dim; d++) dot += q[d] * cache_value<kInt8>(a.k_cache, base + d * block_size + t);
        const float s = kInt8 ? a.scale * (dot * a.k_scales[scales + t]) : a.scale * dot;
        if (s > m) {
          // A new maximum: rescale what was accumulated against the old one.
          const float correction = std::exp(m - s);
          l *= correction;
          for (int64_t d = 0; d < head_dim; d++) acc[d] *= correction;
          m = s;
        }
        const float p = std::exp(s - m);
        l += p;
        const float pv = kInt8 ? p * a.v_scales[scales + t] : p;
        for (int64_t d = 0; d < head_dim; d++) acc[d] += pv * cache_value<kInt8>(a.v_cache, base + t * head_dim + d);
      }
    }
    float* o = a.out + (token * a.n_heads + h) * head_dim;  // (head_dim)
    const float inv = 1.0f / l;
    for (int64_t d = 0; d < head_dim; d++) o[d] = acc[d] * inv;
  }
  return true;
}

}  // namespace

bool paged_attention_heads_f16_probs(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                     int64_t num_positions, int64_t head_begin, int64_t head_count,
                                     const NextUnit* /*next*/) {
  const int64_t head_dim = a.head_dim, block_size = a.block_size;
  const int64_t kv_head = head_begin / (a.n_heads / a.n_kv_heads);
  const int64_t num_table_blocks = (num_positions + block_size - 1) / block_size;
  static thread_local std::vector<float> scores;  // (num_positions) scores, then probabilities
  static thread_local std::vector<int64_t> bases;  // (num_table_blocks) element offset of each block
  scores.resize(static_cast<size_t>(num_positions));
  bases.resize(static_cast<size_t>(num_table_blocks));
  for (int64_t b = 0; b < num_table_blocks; b++) {
    const int32_t block = block_table[b];
    if (block < 0 || block >= a.num_blocks) return false;
    bases[b] = (block * a.n_kv_heads + kv_head) * head_dim * block_size;
  }
  const auto* k_cache = static_cast<const uint16_t*>(a.k_cache);
  const auto* v_cache = static_cast<const uint16_t*>(a.v_cache);
  for (int64_t h = head_begin; h < head_begin + head_count; h++) {
    const float* q = a.q + (token * a.n_heads + h) * head_dim;  // (head_dim)
    for (int64_t t = 0; t < num_positions; t++) {
      const int64_t base = bases[t / block_size] + t % block_size;
      float dot = 0.0f;
      for (int64_t d = 0; d < head_dim; d++) dot += q[d] * fp16_to_f32(k_cache[base + d * block_size]);
      scores[t] = a.scale * dot;
    }
    softmax_row_generic(scores.data(), num_positions);  // ggml's soft_max: sum in double, float reciprocal
    float acc[kMaxAttentionHeadDim] = {};                // (head_dim)
    for (int64_t t = 0; t < num_positions; t++) {
      const float p = fp16_to_f32(f32_to_fp16(scores[t]));
      const int64_t base = bases[t / block_size] + (t % block_size) * head_dim;
      for (int64_t d = 0; d < head_dim; d++) acc[d] += p * fp16_to_f32(v_cache[base + d]);
    }
    float* o = a.out + (token * a.n_heads + h) * head_dim;  // (head_dim)
    for (int64_t d = 0; d < head_dim; d++) o[d] = acc[d];
  }
  return true;
}

bool paged_attention_heads_generic(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                   int64_t num_positions, int64_t head_begin, int64_t head_count,
                                   const NextUnit* /*next*/) {
  return a.int8 ? attend_heads<true>(a, token, block_table, num_positions, head_begin, head_count)
                : attend_heads<false>(a, token, block_table, num_positions, head_begin, head_count);
}

}  // namespace ternion
