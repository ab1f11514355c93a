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

// L = rowsPerTile / 32 register rows of the tile, NA activation rows [n0, n0 + NA): the index words are loaded
// and shifted once for all NA tables (prefill shares the decode of the weights), and each table once for all
// L register rows. Blocks [b0, b1) are one K chunk; between chunks the per-row state (float sums for
// per-block-256, int32 totals for per-token, as raw bits) waits in y.
template <int L, int NA>
static inline void lut_tile(const LutGemm& g, const uint8_t* tables, int64_t table_stride, int64_t n0, int64_t t,
                            int64_t b0, int64_t b1) {
  constexpr int64_t R = 32 * L;
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  // One tile further in this chunk: its blocks are (b1 - b0) * 29 * R words on.
  const int64_t next_tile = (b1 - b0) * kLutWordsPerBlock * R;
  const int64_t m0 = t * R;
  const int64_t valid = g.M - m0 < R ? g.M - m0 : R;
  const int64_t groups = g.per_block ? nblocks : 1;
  __mmask16 store[2 * L];
  for (int h = 0; h < 2 * L; h++) {
    const int64_t rows = valid - 16 * h < 0 ? 0 : valid - 16 * h > 16 ? 16 : valid - 16 * h;
    store[h] = static_cast<__mmask16>((1u << rows) - 1);
  }
  alignas(64) float accf[NA][R];
  alignas(64) int32_t total[NA][R];
  for (int a = 0; a < NA; a++) {
    for (int h = 0; h < 2 * L; h++) {
      const __m512i state =
          b0 == 0 ? _mm512_setzero_si512() : _mm512_maskz_loadu_epi32(store[h], g.y + (n0 + a) * g.M + m0 + 16 * h);
      _mm512_store_si512(accf[a] + 16 * h, state);
      _mm512_store_si512(total[a] + 16 * h, state);
    }
  }
  for (int64_t b = b0; b < b1; b++) {
    const uint16_t* wb = lut_block_words(g, t, b);
    // Fields 0 + 1 and field 2 accumulate apart: a whole block's sum may not fit int16 (lut_layout.h).
    __m512i s01[NA][L], s2[NA][L];
    for (int a = 0; a < NA; a++) {
      for (int l = 0; l < L; l++) s01[a][l] = s2[a][l] = _mm512_setzero_si512();
    }
    for (int w = 0; w < kLutWordsPerBlock; w++) {
      __m512i x0[L], x1[L], x2[L];
      for (int l = 0; l < L; l++) {
        x0[l] = _mm512_loadu_si512(wb + w * R + 32 * l);
        // The same line of the next tile, into L2 (as the MAD GEMV does): without it 1-thread decode ran ~25% slower.
        _mm_prefetch(reinterpret_cast<const char*>(wb + w * R + 32 * l + next_tile), _MM_HINT_T1);
        x1[l] = _mm512_srli_epi16(x0[l], 5);  // vpermw reads index bits 0-4 only
        x2[l] = _mm512_srli_epi16(x0[l], 10);
      }
      for (int a = 0; a < NA; a++) {
        const uint8_t* slot = tables + a * table_stride + b * kLutBlockTableBytes + 3 * w * kLutTableBytes;
        const __m512i t0 = _mm512_loadu_si512(slot);
        const __m512i t1 = _mm512_loadu_si512(slot + kLutTableBytes);
        const __m512i t2 = _mm512_loadu_si512(slot + 2 * kLutTableBytes);
        for (int l = 0; l < L; l++) {
          s01[a][l] = _mm512_add_epi16(s01[a][l], _mm512_add_epi16(_mm512_permutexvar_epi16(x0[l], t0),
                                                                   _mm512_permutexvar_epi16(x1[l], t1)));
          s2[a][l] = _mm512_add_epi16(s2[a][l], _mm512_permutexvar_epi16(x2[l], t2));
        }
      }
    }
    for (int a = 0; a < NA; a++) {
      const float as = g.a_scales[(n0 + a) * groups + b];
      for (int l = 0; l < L; l++) {
        for (int i = 0; i < 2; i++) {
          const __m512i sum = _mm512_add_epi32(
              _mm512_cvtepi16_epi32(i == 0 ? _mm512_castsi512_si256(s01[a][l]) : _mm512_extracti64x4_epi64(s01[a][l], 1)),
              _mm512_cvtepi16_epi32(i == 0 ? _mm512_castsi512_si256(s2[a][l]) : _mm512_extracti64x4_epi64(s2[a][l], 1)));
          float* f = accf[a] + 32 * l + 16 * i;
          int32_t* tot = total[a] + 32 * l + 16 * i;
          if (g.per_block) {  // ternary_block_step
            _mm512_store_ps(f, _mm512_add_ps(_mm512_load_ps(f), _mm512_mul_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(as))));
          } else {
            _mm512_store_si512(tot, _mm512_add_epi32(_mm512_load_si512(tot), sum));
          }
        }
      }
    }
  }
  if (b1 < nblocks) {
    for (int a = 0; a < NA; a++) {
      for (int h = 0; h < 2 * L; h++) {
        const __m512i state = g.per_block ? _mm512_load_si512(accf[a] + 16 * h) : _mm512_load_si512(total[a] + 16 * h);
        _mm512_mask_storeu_epi32(g.y + (n0 + a) * g.M + m0 + 16 * h, store[h], state);
      }
    }
    return;
  }
  for (int h = 0; h < 2 * L; h++) {
    const __m512 ws = _mm512_maskz_loadu_ps(store[h], g.w_scales + m0 + 16 * h);
    for (int a = 0; a < NA; a++) {
      const __m512 out =
          g.per_block ? _mm512_mul_ps(_mm512_load_ps(accf[a] + 16 * h), ws)  // ternary_out_per_block
                      : _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(total[a] + 16 * h)),
                                      _mm512_mul_ps(_mm512_set1_ps(g.a_scales[(n0 + a) * groups]), ws));  // per token
      _mm512_mask_storeu_ps(g.y + (n0 + a) * g.M + m0 + 16 * h, store[h], out);
    }
  }
}

// Up to 4 activation rows per pass (2 for 128-row tiles): NA * L * 2 accumulators plus 3 * L index registers
// must stay within the 32 zmm registers.
template <int L>
static inline void lut_tile_rows(const LutGemm& g, const uint8_t* tables, int64_t table_stride, int64_t n0,
                                 int64_t na, int64_t t0, int64_t t1) {
  constexpr int64_t kMaxNa = L == 4 ? 2 : 4;
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  for (int64_t b0 = 0; b0 < nblocks; b0 += g.B) {
    const int64_t b1 = b0 + g.B < nblocks ? b0 + g.B : nblocks;
    for (int64_t t = t0; t < t1; t++) {
      for (int64_t a = 0; a < na; a += kMaxNa) {
        const uint8_t* ta = tables + a * table_stride;
        switch (na - a < kMaxNa ? na - a : kMaxNa) {
          case 1:
            lut_tile<L, 1>(g, ta, table_stride, n0 + a, t, b0, b1);
            break;
          case 2:
            lut_tile<L, 2>(g, ta, table_stride, n0 + a, t, b0, b1);
            break;
          case 3:
            lut_tile<L, 3>(g, ta, table_stride, n0 + a, t, b0, b1);
            break;
          default:
            lut_tile<L, L == 4 ? 2 : 4>(g, ta, table_stride, n0 + a, t, b0, b1);
            break;
        }
      }
    }
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

void lut_tiles_avx512(const LutGemm& g, const uint8_t* tables, int64_t table_stride, int64_t n0, int64_t na,
                      int64_t t0, int64_t t1) {
  if (g.R == 128) {
    avx512::lut_tile_rows<4>(g, tables, table_stride, n0, na, t0, t1);
  } else if (g.R == 64) {
    avx512::lut_tile_rows<2>(g, tables, table_stride, n0, na, t0, t1);
  } else {
    avx512::lut_tile_rows<1>(g, tables, table_stride, n0, na, t0, t1);
  }
}

}  // namespace ternion
