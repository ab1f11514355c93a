// AVX-512 paged attention. Per block and per tile of 16 positions:
//   scores  16 positions in one zmm: K is dimension-major inside a block, so for each dimension d one 32-byte
//           load + vcvtph2ps gives k[d] for 16 positions, multiplied by q[d] broadcast (no horizontal sums);
//   softmax the tile's maximum updates each head's running maximum (rescaling its accumulator when it grows),
//           then p = exp(s - max) for 16 lanes at once;
//   p·V     each V row (position-major) is converted once and added to every query head of the group.
// Query heads that share a KV head go through together (up to 8), so K/V are read and converted once per
// group. Online softmax: Milakov & Gimelshein, "Online normalizer calculation for softmax" (2018), in the
// tiled form of FlashAttention (Dao et al. 2022). Q, scores, probabilities and the accumulator stay in f32
// (ggml's CPU flash-attention rounds Q and the V accumulator to f16; this is the more precise side).
// The int8 caches share the code: their values convert with vpmovsxbd + vcvtdq2ps, the K scales multiply
// the 16 scores, and the V scales fold into the 16 probabilities.
#include <immintrin.h>

#include <cmath>

// GCC 12 flags the deliberately undefined pass-through operand inside its own AVX-512 intrinsics
// (_mm512_undefined_ps) as uninitialised; the values are never used.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "attention/attention.h"

namespace ternion {
namespace avx512 {
namespace {

constexpr int kMaxGroup = 8;  // query heads per pass: 2 score accumulators each stay in registers

// e^x, relative error below 2e-7 for x in [-104, 88]; lanes below -104 give (almost) 0.
// Range reduction x = n·ln2 + r with ln2 split in two (Cody & Waite), degree-6 Taylor polynomial on
// |r| <= ln2/2, then vscalefps multiplies by 2^n (it underflows gracefully to 0).
inline __m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// Up to 16 cache values from element `index` on (masked lanes read nothing and give 0) as f32: f16
// through vcvtph2ps, int8 sign-extended (without its scale).
template <bool kInt8>
inline __m512 load_values(const void* cache, int64_t index, __mmask16 mask) {
  if constexpr (kInt8) {
    const __m128i bytes = _mm_maskz_loadu_epi8(mask, static_cast<const int8_t*>(cache) + index);
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes));
  } else {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(cache) + index));
  }
}

// G query heads [head0, head0 + G) sharing one KV head; kInt8 selects the int8 + scales caches.
template <int G, bool kInt8>
bool attend_group(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table, int64_t num_positions,
                  int64_t head0) {
  const int64_t head_dim = a.head_dim, block_size = a.block_size;
  const int64_t kv_head = head0 / (a.n_heads / a.n_kv_heads);
  const int64_t num_chunks = (head_dim + 15) / 16;
  const __mmask16 last_chunk = head_dim % 16 ? static_cast<__mmask16>((1u << (head_dim % 16)) - 1) : 0xffff;
  const float* q[G];  // G × (head_dim)
  for (int g = 0; g < G; g++) q[g] = a.q + (token * a.n_heads + head0 + g) * head_dim;
  alignas(64) float acc[G][kMaxAttentionHeadDim];  // (G, num_chunks * 16) sum of p·V at each head's max
  alignas(64) float p[G][16];                      // (G, 16) probabilities of the current tile
  float m[G], l[G];                                // running max and sum of exp(score - max)
  for (int g = 0; g < G; g++) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
    for (int64_t c = 0; c < num_chunks; c++) _mm512_store_ps(acc[g] + c * 16, _mm512_setzero_ps());
  }
  const __m512 scale = _mm512_set1_ps(a.scale);
  const int64_t num_table_blocks = (num_positions + block_size - 1) / block_size;
  for (int64_t b = 0; b < num_table_blocks; b++) {
    const int32_t block = block_table[b];
    if (block < 0 || block >= a.num_blocks) return false;
    const int64_t base = (block * a.n_kv_heads + kv_head) * head_dim * block_size;  // K (head_dim, block_size), V (block_size, head_dim)
    const int64_t scales = (block * a.n_kv_heads + kv_head) * block_size;            // (block_size)
    const int64_t valid = num_positions - b * block_size < block_size ? num_positions - b * block_size : block_size;
    for (int64_t t0 = 0; t0 < valid; t0 += 16) {
      const int64_t len = valid - t0 < 16 ? valid - t0 : 16;
      const __mmask16 lanes = len == 16 ? 0xffff : static_cast<__mmask16>((1u << len) - 1);
      // Scores: two accumulators per head (even and odd d) hide the FMA latency.
      __m512 s0[G], s1[G];
      for (int g = 0; g < G; g++) s0[g] = s1[g] = _mm512_setzero_ps();
      const int64_t kt = base + t0;
      int64_t d = 0;
      for (; d + 2 <= head_dim; d += 2) {
        const __m512 k0 = load_values<kInt8>(a.k_cache, kt + d * block_size, lanes);
        const __m512 k1 = load_values<kInt8>(a.k_cache, kt + (d + 1) * block_size, lanes);
        for (int g = 0; g < G; g++) {
          s0[g] = _mm512_fmadd_ps(k0, _mm512_set1_ps(q[g][d]), s0[g]);
          s1[g] = _mm512_fmadd_ps(k1, _mm512_set1_ps(q[g][d + 1]), s1[g]);
        }
      }
      if (d < head_dim) {
        const __m512 k0 = load_values<kInt8>(a.k_cache, kt + d * block_size, lanes);
        for (int g = 0; g < G; g++) s0[g] = _mm512_fmadd_ps(k0, _mm512_set1_ps(q[g][d]), s0[g]);
      }
      __m512 k_scale = _mm512_setzero_ps(), v_scale = _mm512_setzero_ps();
      if constexpr (kInt8) {
        k_scale = _mm512_maskz_loadu_ps(lanes, a.k_scales + scales + t0);
        v_scale = _mm512_maskz_loadu_ps(lanes, a.v_scales + scales + t0);
      }
      for (int g = 0; g < G; g++) {
        __m512 dot = _mm512_add_ps(s0[g], s1[g]);
        if constexpr (kInt8) dot = _mm512_mul_ps(dot, k_scale);
        const __m512 s = _mm512_mul_ps(dot, scale);
        const float tile_max = _mm512_mask_reduce_max_ps(lanes, s);
        if (tile_max > m[g]) {
          // The running maximum grows: rescale what was accumulated against the old one.
          const float correction = std::exp(m[g] - tile_max);
          l[g] *= correction;
          const __m512 cv = _mm512_set1_ps(correction);
          for (int64_t c = 0; c < num_chunks; c++) {
            _mm512_store_ps(acc[g] + c * 16, _mm512_mul_ps(_mm512_load_ps(acc[g] + c * 16), cv));
          }
          m[g] = tile_max;
        }
        const __m512 e = _mm512_maskz_mov_ps(lanes, exp_ps(_mm512_sub_ps(s, _mm512_set1_ps(m[g]))));
        l[g] += _mm512_reduce_add_ps(e);
        // int8: V's per-position scale folds into the probability.
        _mm512_store_ps(p[g], kInt8 ? _mm512_mul_ps(e, v_scale) : e);
      }
      // p·V, one 16-dimension chunk of every head's accumulator at a time.
      const int64_t vt = base + t0 * head_dim;
      for (int64_t c = 0; c < num_chunks; c++) {
        const __mmask16 dims = c == num_chunks - 1 ? last_chunk : 0xffff;
        __m512 av[G];
        for (int g = 0; g < G; g++) av[g] = _mm512_load_ps(acc[g] + c * 16);
        for (int64_t t = 0; t < len; t++) {
          const __m512 vv = load_values<kInt8>(a.v_cache, vt + t * head_dim + c * 16, dims);
          for (int g = 0; g < G; g++) av[g] = _mm512_fmadd_ps(_mm512_set1_ps(p[g][t]), vv, av[g]);
        }
        for (int g = 0; g < G; g++) _mm512_store_ps(acc[g] + c * 16, av[g]);
      }
    }
  }
  for (int g = 0; g < G; g++) {
    float* o = a.out + (token * a.n_heads + head0 + g) * head_dim;  // (head_dim)
    const __m512 inv = _mm512_set1_ps(1.0f / l[g]);
    for (int64_t c = 0; c < num_chunks; c++) {
      const __mmask16 dims = c == num_chunks - 1 ? last_chunk : 0xffff;
      _mm512_mask_storeu_ps(o + c * 16, dims, _mm512_mul_ps(_mm512_load_ps(acc[g] + c * 16), inv));
    }
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
}  // namespace avx512

bool paged_attention_heads_avx512(const PagedAttentionArgs& a, int64_t token, const int32_t* block_table,
                                  int64_t num_positions, int64_t head_begin, int64_t head_count) {
  using namespace avx512;
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
