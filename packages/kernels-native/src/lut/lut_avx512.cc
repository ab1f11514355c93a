// AVX-512 lookup-table ternary GEMV tile. `vpermw` (AVX-512BW) looks up 32 int16 table entries by the 5-bit
// pattern index in each 16-bit lane: one instruction gives 32 rows' exact partial sums over 3 weights, and the
// three fields of a word need only two shifts (vpermw ignores index bits above 4). VBMI's `vpermb` was the
// other candidate: it selects bytes, so exact int16 sums would need two lookups (low/high byte) plus two
// unpacks per 64 rows, more work than one vpermw per 32 rows, so it is not used.
// The block's int16 sums are widened once per 256 weights and combined with ternary_matmul.h's formulas
// lane-wise, so results equal ternaryMatmul bit for bit.
#include <immintrin.h>

#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "lut/lut_layout.h"
#include "ternary/packed_layout.h"
#include "ternary/ternary_matmul.h"

namespace ternion {
namespace avx512 {
namespace {

// L = rowsPerTile / 32 register rows of the tile; tables of each word are loaded once for all of them.
template <int L>
static inline void lut_tile(const LutGemm& g, const uint8_t* tables, int64_t n, int64_t t) {
  constexpr int64_t R = 32 * L;
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const uint16_t* wt = g.w + t * nblocks * kLutWordsPerBlock * R;
  const int64_t m0 = t * R;
  const int64_t valid = g.M - m0 < R ? g.M - m0 : R;
  __mmask16 store[2 * L];
  __m512 ws[2 * L], accf[2 * L];
  __m512i total[2 * L];
  for (int h = 0; h < 2 * L; h++) {
    const int64_t rows = valid - 16 * h < 0 ? 0 : valid - 16 * h > 16 ? 16 : valid - 16 * h;
    store[h] = static_cast<__mmask16>((1u << rows) - 1);
    ws[h] = _mm512_maskz_loadu_ps(store[h], g.w_scales + m0 + 16 * h);
    accf[h] = _mm512_setzero_ps();
    total[h] = _mm512_setzero_si512();
  }
  const int64_t groups = g.per_block ? nblocks : 1;
  const float* as = g.a_scales + n * groups;
  for (int64_t b = 0; b < nblocks; b++) {
    const uint8_t* tb = tables + b * kLutBlockTableBytes;
    const uint16_t* wb = wt + b * kLutWordsPerBlock * R;
    // Three accumulators per register row keep the add chains short; fields 0 + 1 and field 2 are widened
    // separately, since a whole block's sum may not fit int16 (see layout).
    __m512i sa[L], sb[L], sc[L];
    for (int l = 0; l < L; l++) sa[l] = sb[l] = sc[l] = _mm512_setzero_si512();
    for (int w = 0; w < kLutWordsPerBlock; w++) {
      const __m512i ta = _mm512_loadu_si512(tb + (3 * w) * kLutTableBytes);
      const __m512i tbl = _mm512_loadu_si512(tb + (3 * w + 1) * kLutTableBytes);
      const __m512i tc = _mm512_loadu_si512(tb + (3 * w + 2) * kLutTableBytes);
      for (int l = 0; l < L; l++) {
        const __m512i x = _mm512_loadu_si512(wb + w * R + 32 * l);
        sa[l] = _mm512_add_epi16(sa[l], _mm512_permutexvar_epi16(x, ta));
        sb[l] = _mm512_add_epi16(sb[l], _mm512_permutexvar_epi16(_mm512_srli_epi16(x, 5), tbl));
        sc[l] = _mm512_add_epi16(sc[l], _mm512_permutexvar_epi16(_mm512_srli_epi16(x, 10), tc));
      }
    }
    for (int l = 0; l < L; l++) {
      const __m512i ab = _mm512_add_epi16(sa[l], sb[l]);  // 32 rows
      const __m512i s[2] = {
          _mm512_add_epi32(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(ab)),
                           _mm512_cvtepi16_epi32(_mm512_castsi512_si256(sc[l]))),
          _mm512_add_epi32(_mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(ab, 1)),
                           _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(sc[l], 1)))};
      for (int i = 0; i < 2; i++) {
        if (g.per_block) {  // ternary_block_step
          accf[2 * l + i] = _mm512_add_ps(accf[2 * l + i], _mm512_mul_ps(_mm512_cvtepi32_ps(s[i]), _mm512_set1_ps(as[b])));
        } else {
          total[2 * l + i] = _mm512_add_epi32(total[2 * l + i], s[i]);
        }
      }
    }
  }
  float* y = g.y + n * g.M + m0;
  for (int h = 0; h < 2 * L; h++) {
    const __m512 out = g.per_block ? _mm512_mul_ps(accf[h], ws[h])  // ternary_out_per_block
                                   : _mm512_mul_ps(_mm512_cvtepi32_ps(total[h]),
                                                   _mm512_mul_ps(_mm512_set1_ps(as[0]), ws[h]));  // per token
    _mm512_mask_storeu_ps(y + 16 * h, store[h], out);
  }
}

}  // namespace
}  // namespace avx512

void lut_tables_avx512(const LutGemm& g, int64_t n, int64_t b, uint8_t* slots) {
  const int8_t* qb = g.q + n * g.Kp + b * kPackedBlockWeights;
  const __m512i w0 = _mm512_load_si512(kLutPatternWeights.v[0]);
  const __m512i w1 = _mm512_load_si512(kLutPatternWeights.v[1]);
  const __m512i w2 = _mm512_load_si512(kLutPatternWeights.v[2]);
  for (int j = 0; j < kLutGroupsPerBlock; j++) {
    const __m512i a0 = _mm512_set1_epi16(static_cast<int16_t>(lut_activation(qb, j, 0)));
    const __m512i a1 = _mm512_set1_epi16(static_cast<int16_t>(lut_activation(qb, j, 1)));
    const __m512i a2 = _mm512_set1_epi16(static_cast<int16_t>(lut_activation(qb, j, 2)));
    const __m512i t = _mm512_add_epi16(_mm512_add_epi16(_mm512_mullo_epi16(w0, a0), _mm512_mullo_epi16(w1, a1)),
                                       _mm512_mullo_epi16(w2, a2));
    _mm512_storeu_si512(slots + j * kLutTableBytes, t);
  }
}

void lut_tiles_avx512(const LutGemm& g, const uint8_t* tables, int64_t n, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; t++) {
    if (g.R == 64) {
      avx512::lut_tile<2>(g, tables, n, t);
    } else {
      avx512::lut_tile<1>(g, tables, n, t);
    }
  }
}

}  // namespace ternion
