// ternary_gemm_llamacpp (ternary_matmul.h) with AVX-512 VNNI: one weight row x one token at a time. A block's
// four 64-code planes go through vpdpbusd into one accumulator whose lane i holds the k with k mod 64 in
// [4i, 4i + 4), so llama.cpp's 8 lanes (k mod 32 in [4l, 4l + 4)) are lanes l + (l + 8): one 256-bit add.
// The float epilogue then runs in 8 lanes as llama.cpp's AVX2 kernel does, its multiply-add fused (GCC
// contracts its _mm256_add_ps(_mm256_mul_ps(...)) into vfmadd; with the fused form the logits of llama.cpp's
// x86 build and ours agreed better: cosine 1.000000 vs 0.999987 on a synthetic model), so results equal
// ternary_gemm_llamacpp_generic bit for bit. A comparison mode: no register tiling across rows or tokens.
#include <immintrin.h>

// GCC 12's own AVX-512 headers trip -Wmaybe-uninitialized on _mm512_undefined_* inside the intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "ternary/packed_layout.h"
#include "ternary/ternary_matmul.h"

namespace ternion {

void ternary_gemm_llamacpp_avx512(const TernaryGemm& g, int64_t m0, int64_t m1) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const __m512i mask = _mm512_set1_epi8(3);
  for (int64_t m = m0; m < m1; m++) {
    const uint8_t* w = g.w + m * (g.Kp / 4);
    const float w_scale = g.w_scales[m];
    for (int64_t n = 0; n < g.N; n++) {
      const int8_t* q = g.q + n * g.Kp;
      __m256 sumf = _mm256_setzero_ps();
      for (int64_t b = 0; b < nblocks; b++) {
        const __m512i wb = _mm512_loadu_si512(w + b * kPackedBlockBytes);
        const int8_t* qb = q + b * kPackedBlockWeights;
        __m512i acc = _mm512_setzero_si512();
        for (int p = 0; p < 4; p++) {
          const __m512i plane = _mm512_and_si512(p == 0 ? wb : _mm512_srli_epi16(wb, 2 * p), mask);
          acc = _mm512_dpbusd_epi32(acc, plane, _mm512_loadu_si512(qb + 64 * p));
        }
        const __m256i lanes = _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
        const __m256i sums32 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.q_sums32 + (n * nblocks + b) * 8));
        const __m256 d = _mm256_set1_ps(g.a_scales[n * nblocks + b] * w_scale);
        sumf = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(lanes, sums32)), d, sumf);
      }
      alignas(32) float s[8];
      _mm256_store_ps(s, sumf);
      g.y[n * g.M + m] = llamacpp_hsum8(s);
    }
  }
}

}  // namespace ternion
