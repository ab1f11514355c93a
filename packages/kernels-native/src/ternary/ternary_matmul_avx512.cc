// AVX-512 VNNI ternary GEMM. `vpdpbusd` multiplies the u8 codes (0/1/2) by the s8 activations and adds groups
// of four into int32 lanes without saturation, so one instruction does 64 multiply-adds exactly.
//   decode (N < 4): 16 weight rows x 1 activation row per tile; each 64-byte block is loaded once and split
//                   into its 4 code planes in registers.
//   prefill:        4 weight rows x 4 activation rows per tile (16 int32 accumulators); 4 activation rows
//                   (4 * Kp bytes) stay in L1 while the tile walks a 64-row chunk of weights kept in L2.
// Both end in one 16-way transpose-reduction (16 horizontal sums for ~3 instructions each), and apply the
// float formulas of ternary_matmul.h lane-wise, so results equal the scalar reference bit for bit.
#include <immintrin.h>

// GCC 12's own AVX-512 headers trip -Wmaybe-uninitialized on _mm512_undefined_* inside the intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "ternary/packed_layout.h"
#include "ternary/ternary_matmul.h"

namespace ternion {
namespace avx512 {
namespace {

// Lane i of the result = sum of the 16 int32 lanes of v[i].
static inline __m512i reduce16(const __m512i* v) {
  __m512i a[8], b[4];
  for (int i = 0; i < 8; i++) {
    a[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
  }
  for (int i = 0; i < 4; i++) {  // per 128-bit lane: the lane's partial sums of v[4i .. 4i+3]
    b[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_epi64(a[2 * i], a[2 * i + 1]));
  }
  const int kEven = _MM_SHUFFLE(2, 0, 2, 0), kOdd = _MM_SHUFFLE(3, 1, 3, 1);
  const __m512i c0 = _mm512_add_epi32(_mm512_shuffle_i32x4(b[0], b[1], kEven), _mm512_shuffle_i32x4(b[0], b[1], kOdd));
  const __m512i c1 = _mm512_add_epi32(_mm512_shuffle_i32x4(b[2], b[3], kEven), _mm512_shuffle_i32x4(b[2], b[3], kOdd));
  return _mm512_add_epi32(_mm512_shuffle_i32x4(c0, c1, kEven), _mm512_shuffle_i32x4(c0, c1, kOdd));
}

// 16 rows [m, m + rows) x activation row n. Rows past the edge repeat the last row; their lanes are not stored.
static inline void gemv16(const TernaryGemm& g, int64_t m, int rows, int64_t n) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t row_bytes = g.Kp / 4;
  const uint8_t* wr[16];
  for (int r = 0; r < 16; r++) wr[r] = g.w + (m + (r < rows ? r : rows - 1)) * row_bytes;
  const int8_t* q = g.q + n * g.Kp;
  const __m512i mask = _mm512_set1_epi8(3);
  alignas(64) float ws[16];
  for (int r = 0; r < 16; r++) ws[r] = g.w_scales[m + (r < rows ? r : rows - 1)];
  const __m512 ws_v = _mm512_load_ps(ws);
  const __mmask16 store = static_cast<__mmask16>((1u << rows) - 1);
  float* y = g.y + n * g.M + m;

  __m512i acc[16];
  for (int r = 0; r < 16; r++) acc[r] = _mm512_setzero_si512();
  if (!g.per_block) {
    for (int64_t b = 0; b < nblocks; b++) {
      const int8_t* qb = q + b * kPackedBlockWeights;
      const __m512i a0 = _mm512_loadu_si512(qb), a1 = _mm512_loadu_si512(qb + 64);
      const __m512i a2 = _mm512_loadu_si512(qb + 128), a3 = _mm512_loadu_si512(qb + 192);
      for (int r = 0; r < 16; r++) {
        const __m512i w = _mm512_loadu_si512(wr[r] + b * kPackedBlockBytes);
        // The same line of the next tile (16 rows on), into L2: one tile of lead keeps DRAM busy while this one
        // computes, and L2 tracks far more outstanding misses than L1 (T1 doubled 1-thread GEMV bandwidth vs T0).
        _mm_prefetch(reinterpret_cast<const char*>(wr[r] + b * kPackedBlockBytes + 16 * row_bytes), _MM_HINT_T1);
        acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_and_si512(w, mask), a0);
        acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_and_si512(_mm512_srli_epi16(w, 2), mask), a1);
        acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_and_si512(_mm512_srli_epi16(w, 4), mask), a2);
        acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_and_si512(_mm512_srli_epi16(w, 6), mask), a3);
      }
    }
    const __m512i isum = _mm512_sub_epi32(reduce16(acc), _mm512_set1_epi32(g.a_sums[n]));
    const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(g.a_scales[n]), ws_v);  // ternary_out_per_token
    _mm512_mask_storeu_ps(y, store, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), scale));
    return;
  }
  const float* as = g.a_scales + n * nblocks;
  const int32_t* sums = g.a_sums + n * nblocks;
  __m512 accf = _mm512_setzero_ps();
  for (int64_t b = 0; b < nblocks; b++) {
    const int8_t* qb = q + b * kPackedBlockWeights;
    const __m512i a0 = _mm512_loadu_si512(qb), a1 = _mm512_loadu_si512(qb + 64);
    const __m512i a2 = _mm512_loadu_si512(qb + 128), a3 = _mm512_loadu_si512(qb + 192);
    for (int r = 0; r < 16; r++) {
      const __m512i w = _mm512_loadu_si512(wr[r] + b * kPackedBlockBytes);
      _mm_prefetch(reinterpret_cast<const char*>(wr[r] + b * kPackedBlockBytes + 16 * row_bytes), _MM_HINT_T1);
      acc[r] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(w, mask), a0);
      acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_and_si512(_mm512_srli_epi16(w, 2), mask), a1);
      acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_and_si512(_mm512_srli_epi16(w, 4), mask), a2);
      acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_and_si512(_mm512_srli_epi16(w, 6), mask), a3);
    }
    const __m512i isum = _mm512_sub_epi32(reduce16(acc), _mm512_set1_epi32(sums[b]));
    // ternary_block_step: acc + (float)isum_b * a_scale_b
    accf = _mm512_add_ps(accf, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(as[b])));
  }
  _mm512_mask_storeu_ps(y, store, _mm512_mul_ps(accf, ws_v));  // ternary_out_per_block
}

// 4 weight rows [m, m + rows) x 4 activation rows [n, n + nrows); lane i of the sums is (row i/4, act i%4).
static inline void gemm4x4(const TernaryGemm& g, int64_t m, int rows, int64_t n, int nrows) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t groups = g.per_block ? nblocks : 1;
  const int64_t row_bytes = g.Kp / 4;
  const uint8_t* wr[4];
  const int8_t* ar[4];
  int64_t an[4];
  alignas(64) float ws[16];
  for (int i = 0; i < 4; i++) {
    wr[i] = g.w + (m + (i < rows ? i : rows - 1)) * row_bytes;
    an[i] = n + (i < nrows ? i : nrows - 1);
    ar[i] = g.q + an[i] * g.Kp;
  }
  for (int i = 0; i < 16; i++) ws[i] = g.w_scales[m + ((i >> 2) < rows ? (i >> 2) : rows - 1)];
  const __m512i mask = _mm512_set1_epi8(3);

  __m512i acc[16];
  for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_si512();
  __m512 accf = _mm512_setzero_ps();
  for (int64_t b = 0; b < nblocks; b++) {
    if (g.per_block) {
      for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_si512();
    }
    const __m512i w0 = _mm512_loadu_si512(wr[0] + b * kPackedBlockBytes);
    const __m512i w1 = _mm512_loadu_si512(wr[1] + b * kPackedBlockBytes);
    const __m512i w2 = _mm512_loadu_si512(wr[2] + b * kPackedBlockBytes);
    const __m512i w3 = _mm512_loadu_si512(wr[3] + b * kPackedBlockBytes);
    for (int p = 0; p < 4; p++) {
      const __m512i p0 = _mm512_and_si512(_mm512_srli_epi16(w0, 2 * p), mask);
      const __m512i p1 = _mm512_and_si512(_mm512_srli_epi16(w1, 2 * p), mask);
      const __m512i p2 = _mm512_and_si512(_mm512_srli_epi16(w2, 2 * p), mask);
      const __m512i p3 = _mm512_and_si512(_mm512_srli_epi16(w3, 2 * p), mask);
      for (int j = 0; j < 4; j++) {
        const __m512i a = _mm512_loadu_si512(ar[j] + b * kPackedBlockWeights + 64 * p);
        acc[0 + j] = _mm512_dpbusd_epi32(acc[0 + j], p0, a);
        acc[4 + j] = _mm512_dpbusd_epi32(acc[4 + j], p1, a);
        acc[8 + j] = _mm512_dpbusd_epi32(acc[8 + j], p2, a);
        acc[12 + j] = _mm512_dpbusd_epi32(acc[12 + j], p3, a);
      }
    }
    if (g.per_block) {
      const __m512i sums = _mm512_broadcast_i32x4(_mm_set_epi32(g.a_sums[an[3] * groups + b], g.a_sums[an[2] * groups + b],
                                                                g.a_sums[an[1] * groups + b], g.a_sums[an[0] * groups + b]));
      const __m512 as = _mm512_broadcast_f32x4(_mm_set_ps(g.a_scales[an[3] * groups + b], g.a_scales[an[2] * groups + b],
                                                          g.a_scales[an[1] * groups + b], g.a_scales[an[0] * groups + b]));
      const __m512i isum = _mm512_sub_epi32(reduce16(acc), sums);
      accf = _mm512_add_ps(accf, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), as));  // ternary_block_step
    }
  }
  alignas(64) float out[16];
  if (g.per_block) {
    _mm512_store_ps(out, _mm512_mul_ps(accf, _mm512_load_ps(ws)));  // ternary_out_per_block
  } else {
    const __m512i sums = _mm512_broadcast_i32x4(_mm_set_epi32(g.a_sums[an[3]], g.a_sums[an[2]], g.a_sums[an[1]], g.a_sums[an[0]]));
    const __m512 as = _mm512_broadcast_f32x4(_mm_set_ps(g.a_scales[an[3]], g.a_scales[an[2]], g.a_scales[an[1]], g.a_scales[an[0]]));
    const __m512i isum = _mm512_sub_epi32(reduce16(acc), sums);
    _mm512_store_ps(out, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(as, _mm512_load_ps(ws))));  // per token
  }
  for (int r = 0; r < rows; r++) {
    for (int j = 0; j < nrows; j++) g.y[(n + j) * g.M + m + r] = out[r * 4 + j];
  }
}

}  // namespace
}  // namespace avx512

void ternary_gemm_avx512(const TernaryGemm& g, int64_t m0, int64_t m1) {
  if (g.N < 4) {
    for (int64_t m = m0; m < m1; m += 16) {
      const int rows = static_cast<int>(m1 - m < 16 ? m1 - m : 16);
      for (int64_t n = 0; n < g.N; n++) avx512::gemv16(g, m, rows, n);
    }
    return;
  }
  constexpr int64_t kChunkRows = 64;
  for (int64_t mc = m0; mc < m1; mc += kChunkRows) {
    const int64_t mc_end = mc + kChunkRows < m1 ? mc + kChunkRows : m1;
    for (int64_t n = 0; n < g.N; n += 4) {
      const int nrows = static_cast<int>(g.N - n < 4 ? g.N - n : 4);
      for (int64_t m = mc; m < mc_end; m += 4) {
        avx512::gemm4x4(g, m, static_cast<int>(mc_end - m < 4 ? mc_end - m : 4), n, nrows);
      }
    }
  }
}

}  // namespace ternion
