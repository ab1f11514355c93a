// AVX2 ternary GEMM. `vpmaddubsw` multiplies the u8 codes (0/1/2) by the s8 activations and adds adjacent
// pairs into int16; it saturates, but |2*128 + 2*128| = 512 and a block adds 8 such terms per lane (4096), far
// below 32767. One `vpmaddwd` by ones per block widens to int32.
//   decode (N < 2): 8 weight rows x 1 activation row per tile;
//   prefill:        2 weight rows x 4 activation rows per tile (8 accumulators, code planes reused 4 times).
// An 8-way transpose-reduction yields the 8 sums; the float formulas of ternary_matmul.h are applied lane-wise,
// so results equal the scalar reference bit for bit.
#include <immintrin.h>

#include "ternary/packed_layout.h"
#include "ternary/ternary_matmul.h"

namespace ternion {
namespace avx2 {
namespace {

// Lane i of the result = sum of the 8 int32 lanes of v[i].
static inline __m256i reduce8(const __m256i* v) {
  __m256i a[4];
  for (int i = 0; i < 4; i++) {
    a[i] = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]), _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
  }
  // per 128-bit lane: the lane's partial sums of v[0..3] and v[4..7]
  const __m256i b0 = _mm256_add_epi32(_mm256_unpacklo_epi64(a[0], a[1]), _mm256_unpackhi_epi64(a[0], a[1]));
  const __m256i b1 = _mm256_add_epi32(_mm256_unpacklo_epi64(a[2], a[3]), _mm256_unpackhi_epi64(a[2], a[3]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(b0, b1, 0x20), _mm256_permute2x128_si256(b0, b1, 0x31));
}

// sum over one 256-weight block of code * q, as 8 int32 partial sums (int16 inside the block).
static inline __m256i block_dot(const uint8_t* wb /* (64) */, const int8_t* qb /* (256) */, __m256i mask,
                                __m256i ones) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 32));
  __m256i t = _mm256_setzero_si256();
  for (int p = 0; p < 4; p++) {
    const __m256i a_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qb + 64 * p));
    const __m256i a_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qb + 64 * p + 32));
    t = _mm256_add_epi16(t, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(lo, 2 * p), mask), a_lo));
    t = _mm256_add_epi16(t, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(hi, 2 * p), mask), a_hi));
  }
  return _mm256_madd_epi16(t, ones);
}

// 8 rows [m, m + rows) x activation row n. Rows past the edge repeat the last row; their lanes are not stored.
static inline void gemv8(const TernaryGemm& g, int64_t m, int rows, int64_t n) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t row_bytes = g.Kp / 4;
  const uint8_t* wr[8];
  alignas(32) float ws[8];
  for (int r = 0; r < 8; r++) {
    const int64_t row = m + (r < rows ? r : rows - 1);
    wr[r] = g.w + row * row_bytes;
    ws[r] = g.w_scales[row];
  }
  const int8_t* q = g.q + n * g.Kp;
  const __m256i mask = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  __m256i acc[8];
  for (int r = 0; r < 8; r++) acc[r] = _mm256_setzero_si256();
  __m256 accf = _mm256_setzero_ps();
  for (int64_t b = 0; b < nblocks; b++) {
    const int8_t* qb = q + b * kPackedBlockWeights;
    // The same line of the next tile (8 rows on), into L2: one tile of lead keeps DRAM busy while this one
    // computes, and L2 tracks far more outstanding misses than L1.
    for (int r = 0; r < 8; r++) {
      _mm_prefetch(reinterpret_cast<const char*>(wr[r] + b * kPackedBlockBytes + 8 * row_bytes), _MM_HINT_T1);
    }
    if (!g.per_block) {
      for (int r = 0; r < 8; r++) acc[r] = _mm256_add_epi32(acc[r], block_dot(wr[r] + b * kPackedBlockBytes, qb, mask, ones));
      continue;
    }
    for (int r = 0; r < 8; r++) acc[r] = block_dot(wr[r] + b * kPackedBlockBytes, qb, mask, ones);
    const __m256i isum = _mm256_sub_epi32(reduce8(acc), _mm256_set1_epi32(g.a_sums[n * nblocks + b]));
    // ternary_block_step: acc + (float)isum_b * a_scale_b
    accf = _mm256_add_ps(accf, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(g.a_scales[n * nblocks + b])));
  }
  alignas(32) float out[8];
  if (g.per_block) {
    _mm256_store_ps(out, _mm256_mul_ps(accf, _mm256_load_ps(ws)));  // ternary_out_per_block
  } else {
    const __m256i isum = _mm256_sub_epi32(reduce8(acc), _mm256_set1_epi32(g.a_sums[n]));
    const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(g.a_scales[n]), _mm256_load_ps(ws));  // ternary_out_per_token
    _mm256_store_ps(out, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), scale));
  }
  float* y = g.y + n * g.M + m;
  for (int r = 0; r < rows; r++) y[r] = out[r];
}

// 2 weight rows [m, m + rows) x 4 activation rows [n, n + nrows); lane i is (row i/4, act i%4).
static inline void gemm2x4(const TernaryGemm& g, int64_t m, int rows, int64_t n, int nrows) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t groups = g.per_block ? nblocks : 1;
  const int64_t row_bytes = g.Kp / 4;
  const uint8_t* wr[2];
  const int8_t* ar[4];
  int64_t an[4];
  alignas(32) float ws[8];
  for (int r = 0; r < 2; r++) wr[r] = g.w + (m + (r < rows ? r : rows - 1)) * row_bytes;
  for (int i = 0; i < 8; i++) ws[i] = g.w_scales[m + ((i >> 2) < rows ? (i >> 2) : rows - 1)];
  for (int j = 0; j < 4; j++) {
    an[j] = n + (j < nrows ? j : nrows - 1);
    ar[j] = g.q + an[j] * g.Kp;
  }
  const __m256i mask = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  __m256i acc[8];
  for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_si256();
  __m256 accf = _mm256_setzero_ps();
  for (int64_t b = 0; b < nblocks; b++) {
    __m256i t[8];
    for (int i = 0; i < 8; i++) t[i] = _mm256_setzero_si256();
    for (int p = 0; p < 4; p++) {
      for (int h = 0; h < 2; h++) {  // the two 32-byte halves of the block
        const int64_t wo = b * kPackedBlockBytes + 32 * h;
        const __m256i c0 = _mm256_and_si256(
            _mm256_srli_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr[0] + wo)), 2 * p), mask);
        const __m256i c1 = _mm256_and_si256(
            _mm256_srli_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr[1] + wo)), 2 * p), mask);
        const int64_t ao = b * kPackedBlockWeights + 64 * p + 32 * h;
        for (int j = 0; j < 4; j++) {
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar[j] + ao));
          t[j] = _mm256_add_epi16(t[j], _mm256_maddubs_epi16(c0, a));
          t[4 + j] = _mm256_add_epi16(t[4 + j], _mm256_maddubs_epi16(c1, a));
        }
      }
    }
    if (!g.per_block) {
      for (int i = 0; i < 8; i++) acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(t[i], ones));
      continue;
    }
    for (int i = 0; i < 8; i++) acc[i] = _mm256_madd_epi16(t[i], ones);
    const __m128i s4 = _mm_set_epi32(g.a_sums[an[3] * groups + b], g.a_sums[an[2] * groups + b],
                                     g.a_sums[an[1] * groups + b], g.a_sums[an[0] * groups + b]);
    const __m128 a4 = _mm_set_ps(g.a_scales[an[3] * groups + b], g.a_scales[an[2] * groups + b],
                                 g.a_scales[an[1] * groups + b], g.a_scales[an[0] * groups + b]);
    const __m256i isum = _mm256_sub_epi32(reduce8(acc), _mm256_set_m128i(s4, s4));
    accf = _mm256_add_ps(accf, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_set_m128(a4, a4)));  // block step
  }
  alignas(32) float out[8];
  if (g.per_block) {
    _mm256_store_ps(out, _mm256_mul_ps(accf, _mm256_load_ps(ws)));  // ternary_out_per_block
  } else {
    const __m128i s4 = _mm_set_epi32(g.a_sums[an[3]], g.a_sums[an[2]], g.a_sums[an[1]], g.a_sums[an[0]]);
    const __m128 a4 = _mm_set_ps(g.a_scales[an[3]], g.a_scales[an[2]], g.a_scales[an[1]], g.a_scales[an[0]]);
    const __m256i isum = _mm256_sub_epi32(reduce8(acc), _mm256_set_m128i(s4, s4));
    const __m256 scale = _mm256_mul_ps(_mm256_set_m128(a4, a4), _mm256_load_ps(ws));  // ternary_out_per_token
    _mm256_store_ps(out, _mm256_mul_ps(_mm256_cvtepi32_ps(isum), scale));
  }
  for (int r = 0; r < rows; r++) {
    for (int j = 0; j < nrows; j++) g.y[(n + j) * g.M + m + r] = out[r * 4 + j];
  }
}

}  // namespace
}  // namespace avx2

void ternary_gemm_avx2(const TernaryGemm& g, int64_t m0, int64_t m1) {
  if (g.N < 2) {
    for (int64_t m = m0; m < m1; m += 8) avx2::gemv8(g, m, static_cast<int>(m1 - m < 8 ? m1 - m : 8), 0);
    return;
  }
  constexpr int64_t kChunkRows = 64;
  for (int64_t mc = m0; mc < m1; mc += kChunkRows) {
    const int64_t mc_end = mc + kChunkRows < m1 ? mc + kChunkRows : m1;
    for (int64_t n = 0; n < g.N; n += 4) {
      const int nrows = static_cast<int>(g.N - n < 4 ? g.N - n : 4);
      for (int64_t m = mc; m < mc_end; m += 2) {
        avx2::gemm2x4(g, m, static_cast<int>(mc_end - m < 2 ? mc_end - m : 2), n, nrows);
      }
    }
  }
}

}  // namespace ternion
