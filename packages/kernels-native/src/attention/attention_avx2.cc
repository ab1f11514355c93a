// AVX2 + F16C paged attention: the AVX-512 kernel's structure (see attention_avx512.cc) on 8-lane tiles.
// AVX2 has no masked 16-bit loads, so a tile that would run past its block's end (block sizes that are not
// multiples of 8) or a head-dimension tail goes through a small zero-padded copy; within a block, lanes past
// the last valid position are loaded (in bounds) and masked out of the softmax instead.
// int8 caches share the code (vpmovsxbd + vcvtdq2ps; scales applied to scores and probabilities).
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "attention/attention.h"

namespace ternion {
namespace avx2 {
namespace {

constexpr int kMaxGroup = 8;  // query heads per pass

// e^x, relative error below 2e-7 for x in [-87, 88]; lanes below -87 give e^-87 (~1.6e-38, i.e. nothing
// next to the maximum's weight of 1). Cody & Waite range reduction, degree-6 Taylor polynomial, and 2^n
// built in the exponent field.
inline __m256 exp_ps(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(pow2n));
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline __m256 load_i8(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// 8 cache values from element `index` on as f32 (f16 converted, int8 without its scale); `count` < 8 reads
// only that many through a zero-padded copy.
template <bool kInt8>
inline __m256 load_values(const void* cache, int64_t index, int64_t count = 8) {
  if constexpr (kInt8) {
    const int8_t* p = static_cast<const int8_t*>(cache) + index;
    if (count == 8) return load_i8(p);
    alignas(16) int8_t tmp[16] = {};
    std::memcpy(tmp, p, static_cast<size_t>(count));
    return load_i8(tmp);
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(cache) + index;
    if (count == 8) return load_f16(p);
    alignas(16) uint16_t tmp[8] = {};
    std::memcpy(tmp, p, static_cast<size_t>(count) * sizeof(uint16_t));
    return load_f16(tmp);
  }
}

// G query heads [head0, head0 + G) sharing one KV head; kInt8 selects the int8 + scales caches.
template <int G, bool kInt8>
bool attend_group(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table, int64_t num_positions,
                  int64_t head0) {
  constexpr int kSets = G <= 4 ? 2 : 1;  // independent score accumulators per head, to hide FMA latency
  const int64_t head_dim = a.head_dim, block_size = a.block_size;
  const int64_t kv_head = head0 / (a.n_heads / a.n_kv_heads);
  const int64_t num_chunks = (head_dim + 7) / 8;
  const int64_t tail_dims = head_dim - (num_chunks - 1) * 8;  // 1..8
  const float* q[G];                                          // G × (head_dim)
  for (int g = 0; g < G; g++) q[g] = a.q + (token * a.n_heads + head0 + g) * head_dim;
  alignas(32) float acc[G][kMaxAttentionHeadDim];  // (G, num_chunks * 8) sum of p·V at each head's max
  alignas(32) float p[G][8];                       // (G, 8) probabilities of the current tile
  float m[G], l[G];                                // running max and sum of exp(score - max)
  for (int g = 0; g < G; g++) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
    for (int64_t c = 0; c < num_chunks; c++) _mm256_store_ps(acc[g] + c * 8, _mm256_setzero_ps());
  }
  const __m256 scale = _mm256_set1_ps(a.scale);
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  const __m256i lane_ids = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int64_t num_table_blocks = (num_positions + block_size - 1) / block_size;
  for (int64_t b = 0; b < num_table_blocks; b++) {
    const int32_t block = block_table[b];
    if (block < 0 || block >= a.num_blocks) return false;
    const int64_t base = (block * a.n_kv_heads + kv_head) * head_dim * block_size;  // K (head_dim, block_size), V (block_size, head_dim)
    const int64_t scales = (block * a.n_kv_heads + kv_head) * block_size;            // (block_size)
    const int64_t valid = num_positions - b * block_size < block_size ? num_positions - b * block_size : block_size;
    for (int64_t t0 = 0; t0 < valid; t0 += 8) {
      const int64_t len = valid - t0 < 8 ? valid - t0 : 8;
      // 8 lanes stay inside the block, or only the `in_block` left are read.
      const int64_t in_block = block_size - t0 < 8 ? block_size - t0 : 8;
      const __m256 lanes = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(len)), lane_ids));
      const int64_t kt = base + t0;
      __m256 s[kSets][G];
      for (int j = 0; j < kSets; j++)
        for (int g = 0; g < G; g++) s[j][g] = _mm256_setzero_ps();
      int64_t d = 0;
      for (; d + kSets <= head_dim; d += kSets) {
        for (int j = 0; j < kSets; j++) {
          const __m256 kk = load_values<kInt8>(a.k_cache, kt + (d + j) * block_size, in_block);
          for (int g = 0; g < G; g++) s[j][g] = _mm256_fmadd_ps(kk, _mm256_set1_ps(q[g][d + j]), s[j][g]);
        }
      }
      for (; d < head_dim; d++) {
        const __m256 kk = load_values<kInt8>(a.k_cache, kt + d * block_size, in_block);
        for (int g = 0; g < G; g++) s[0][g] = _mm256_fmadd_ps(kk, _mm256_set1_ps(q[g][d]), s[0][g]);
      }
      __m256 k_scale = _mm256_setzero_ps(), v_scale = _mm256_setzero_ps();
      if constexpr (kInt8) {
        alignas(32) float ks[8] = {}, vs[8] = {};
        std::memcpy(ks, a.k_scales + scales + t0, static_cast<size_t>(len) * sizeof(float));
        std::memcpy(vs, a.v_scales + scales + t0, static_cast<size_t>(len) * sizeof(float));
        k_scale = _mm256_load_ps(ks);
        v_scale = _mm256_load_ps(vs);
      }
      for (int g = 0; g < G; g++) {
        __m256 sum = s[0][g];
        if (kSets == 2) sum = _mm256_add_ps(sum, s[kSets - 1][g]);
        if constexpr (kInt8) sum = _mm256_mul_ps(sum, k_scale);
        // Lanes past the last valid position read stale (or padded) K: -inf keeps them out of the max.
        const __m256 sc = _mm256_blendv_ps(neg_inf, _mm256_mul_ps(sum, scale), lanes);
        const float tile_max = hmax(sc);
        if (tile_max > m[g]) {
          const float correction = std::exp(m[g] - tile_max);
          l[g] *= correction;
          const __m256 cv = _mm256_set1_ps(correction);
          for (int64_t c = 0; c < num_chunks; c++) {
            _mm256_store_ps(acc[g] + c * 8, _mm256_mul_ps(_mm256_load_ps(acc[g] + c * 8), cv));
          }
          m[g] = tile_max;
        }
        const __m256 e = _mm256_and_ps(lanes, exp_ps(_mm256_sub_ps(sc, _mm256_set1_ps(m[g]))));
        l[g] += hsum(e);
        // int8: V's per-position scale folds into the probability.
        _mm256_store_ps(p[g], kInt8 ? _mm256_mul_ps(e, v_scale) : e);
      }
      const int64_t vt = base + t0 * head_dim;
      for (int64_t c = 0; c < num_chunks; c++) {
        const bool full = c < num_chunks - 1 || tail_dims == 8;
        __m256 av[G];
        for (int g = 0; g < G; g++) av[g] = _mm256_load_ps(acc[g] + c * 8);
        for (int64_t t = 0; t < len; t++) {
          const __m256 vv = load_values<kInt8>(a.v_cache, vt + t * head_dim + c * 8, full ? 8 : tail_dims);
          for (int g = 0; g < G; g++) av[g] = _mm256_fmadd_ps(_mm256_set1_ps(p[g][t]), vv, av[g]);
        }
        for (int g = 0; g < G; g++) _mm256_store_ps(acc[g] + c * 8, av[g]);
      }
    }
  }
  for (int g = 0; g < G; g++) {
    float* o = a.out + (token * a.n_heads + head0 + g) * head_dim;  // (head_dim)
    const float inv = 1.0f / l[g];
    for (int64_t d = 0; d < head_dim; d++) o[d] = acc[g][d] * inv;
  }
  return true;
}

template <bool kInt8>
bool attend(int64_t g, const PagedAttentionArgs& a, int64_t token, const int32_t* block_table, int64_t num_positions,
            int64_t head0) {
  switch (g) {
    case 1: return attend_group<1, kInt8>(a, token, block_table, num_positions, head0);
    case 2: return attend_group<2, kInt8>(a, token, block_table, num_positions, head0);
    case 3: return attend_group<3, kInt8>(a, token, block_table, num_positions, head0);
    case 4: return attend_group<4, kInt8>(a, token, block_table, num_positions, head0);
    case 5: return attend_group<5, kInt8>(a, token, block_table, num_positions, head0);
    case 6: return attend_group<6, kInt8>(a, token, block_table, num_positions, head0);
    case 7: return attend_group<7, kInt8>(a, token, block_table, num_positions, head0);
    default: return attend_group<8, kInt8>(a, token, block_table, num_positions, head0);
  }
}

}  // namespace
}  // namespace avx2

bool paged_attention_heads_avx2(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                int64_t num_positions, int64_t head_begin, int64_t head_count,
                                const NextUnit* /*next*/) {
  using namespace avx2;
  for (int64_t h = head_begin; h < head_begin + head_count; h += kMaxGroup) {
    const int64_t g = head_begin + head_count - h < kMaxGroup ? head_begin + head_count - h : kMaxGroup;
    if (!(a.int8 ? attend<true>(g, a, token, block_table, num_positions, h)
                 : attend<false>(g, a, token, block_table, num_positions, h))) {
      return false;
    }
  }
  return true;
}

}  // namespace ternion
