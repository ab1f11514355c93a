// AVX2 lookup-table ternary GEMV tile, bitnet.cpp TL2 style: `vpshufb` looks up 16-entry byte tables, so the 27
// patterns are folded by sign (pattern 26 - f is the negation of f) onto 14 entries, each held as a low-byte
// and a high-byte table. Per 16 rows and 3 weights that is two shuffles, the fold and the sign fix-up (about 14
// instructions for 48 multiply-adds), which is why the chooser rarely picks this path over `vpmaddubsw`.
#include <immintrin.h>

#include <cstring>

#include "lut/lut_layout.h"
#include "ternary/packed_layout.h"
#include "ternary/ternary_matmul.h"

namespace ternion {
namespace avx2 {
namespace {

// H = rowsPerTile / 16 register rows of the tile; blocks [b0, b1) are one K chunk, the per-row state waits in y
// between chunks (float sums or int32 totals as raw bits, as on AVX-512).
template <int H>
static inline void lut_tile(const LutGemm& g, const uint8_t* tables, int64_t n, int64_t t, int64_t b0, int64_t b1) {
  constexpr int64_t R = 16 * H;
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t m0 = t * R;
  const int64_t valid = g.M - m0 < R ? g.M - m0 : R;
  float* y = g.y + n * g.M + m0;
  alignas(32) float state[R] = {};
  if (b0 > 0) std::memcpy(state, y, static_cast<size_t>(valid) * sizeof(float));
  __m256 accf[2 * H];
  __m256i total[2 * H];
  for (int h = 0; h < 2 * H; h++) {
    accf[h] = _mm256_load_ps(state + 8 * h);
    total[h] = _mm256_castps_si256(accf[h]);
  }
  const int64_t groups = g.per_block ? nblocks : 1;
  const float* as = g.a_scales + n * groups;
  const __m256i k31 = _mm256_set1_epi16(31), k13 = _mm256_set1_epi16(13), k26 = _mm256_set1_epi16(26);
  const __m256i lo_only = _mm256_set1_epi16(static_cast<int16_t>(0x8000)), hi_only = _mm256_set1_epi16(0x0080);
  for (int64_t b = b0; b < b1; b++) {
    const uint8_t* tb = tables + b * kLutBlockTableBytes;
    const uint16_t* wb = lut_block_words(g, t, b);
    __m256i s[2][H];  // fields 0-1, field 2 (lut_layout.h)
    for (int h = 0; h < H; h++) s[0][h] = s[1][h] = _mm256_setzero_si256();
    for (int w = 0; w < kLutWordsPerBlock; w++) {
      for (int i = 0; i < 3; i++) {
        const uint8_t* slot = tb + (3 * w + i) * kLutTableBytes;
        const __m256i tlo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(slot)));
        const __m256i thi = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(slot + 16)));
        for (int h = 0; h < H; h++) {
          const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + w * R + 16 * h));
          const __m256i f = _mm256_and_si256(_mm256_srli_epi16(x, 5 * i), k31);
          const __m256i sign = _mm256_cmpgt_epi16(f, k13);                      // -1 where the folded entry is negated
          const __m256i c = _mm256_min_epi16(f, _mm256_sub_epi16(k26, f));     // 0..13
          // Index bytes with bit 7 set read zero: the low byte comes from tlo, the high byte from thi.
          const __m256i lo = _mm256_shuffle_epi8(tlo, _mm256_or_si256(c, lo_only));
          const __m256i hi = _mm256_shuffle_epi8(thi, _mm256_or_si256(_mm256_slli_epi16(c, 8), hi_only));
          const __m256i v = _mm256_or_si256(lo, hi);
          s[i / 2][h] = _mm256_add_epi16(s[i / 2][h], _mm256_sub_epi16(_mm256_xor_si256(v, sign), sign));
        }
      }
    }
    for (int h = 0; h < H; h++) {
      const __m256i sums[2] = {
          _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(s[0][h])),
                           _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s[1][h]))),
          _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(s[0][h], 1)),
                           _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s[1][h], 1)))};
      for (int i = 0; i < 2; i++) {
        if (g.per_block) {  // ternary_block_step
          accf[2 * h + i] = _mm256_add_ps(accf[2 * h + i], _mm256_mul_ps(_mm256_cvtepi32_ps(sums[i]), _mm256_set1_ps(as[b])));
        } else {
          total[2 * h + i] = _mm256_add_epi32(total[2 * h + i], sums[i]);
        }
      }
    }
  }
  alignas(32) float out[R];
  if (b1 < nblocks) {
    for (int h = 0; h < 2 * H; h++) {
      _mm256_store_ps(out + 8 * h, g.per_block ? accf[h] : _mm256_castsi256_ps(total[h]));
    }
    std::memcpy(y, out, static_cast<size_t>(valid) * sizeof(float));
    return;
  }
  alignas(32) float ws[R];
  for (int64_t r = 0; r < R; r++) ws[r] = r < valid ? g.w_scales[m0 + r] : 0.f;
  for (int h = 0; h < 2 * H; h++) {
    const __m256 wsv = _mm256_load_ps(ws + 8 * h);
    const __m256 o = g.per_block ? _mm256_mul_ps(accf[h], wsv)  // ternary_out_per_block
                                 : _mm256_mul_ps(_mm256_cvtepi32_ps(total[h]), _mm256_mul_ps(_mm256_set1_ps(as[0]), wsv));
    _mm256_store_ps(out + 8 * h, o);
  }
  for (int64_t r = 0; r < valid; r++) y[r] = out[r];
}

}  // namespace
}  // namespace avx2

void lut_tables_avx2(const LutGemm& g, int64_t n, int64_t b, uint8_t* slots) {
  const int8_t* qb = g.q + n * g.Kp + b * kPackedBlockWeights;
  const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(kLutPatternWeights.v[0]));
  const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(kLutPatternWeights.v[1]));
  const __m256i w2 = _mm256_load_si256(reinterpret_cast<const __m256i*>(kLutPatternWeights.v[2]));
  const __m256i low_byte = _mm256_set1_epi16(0x00ff);
  for (int j = 0; j < kLutGroupsPerBlock; j++) {
    const __m256i a0 = _mm256_set1_epi16(static_cast<int16_t>(lut_activation(qb, j, 0)));
    const __m256i a1 = _mm256_set1_epi16(static_cast<int16_t>(lut_activation(qb, j, 1)));
    const __m256i a2 = _mm256_set1_epi16(static_cast<int16_t>(lut_activation(qb, j, 2)));
    // Entries 0..15 (14 and 15 are never read).
    const __m256i v = _mm256_add_epi16(_mm256_add_epi16(_mm256_mullo_epi16(w0, a0), _mm256_mullo_epi16(w1, a1)),
                                       _mm256_mullo_epi16(w2, a2));
    // packus per 128-bit lane gives (lo 0-7, hi 0-7 | lo 8-15, hi 8-15); reorder to lo 0-15, hi 0-15.
    const __m256i packed = _mm256_packus_epi16(_mm256_and_si256(v, low_byte), _mm256_srli_epi16(v, 8));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(slots + j * kLutTableBytes),
                        _mm256_permute4x64_epi64(packed, _MM_SHUFFLE(3, 1, 2, 0)));
  }
}

void lut_tiles_avx2(const LutGemm& g, const uint8_t* tables, int64_t table_stride, int64_t n0, int64_t na,
                    int64_t t0, int64_t t1) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  for (int64_t b0 = 0; b0 < nblocks; b0 += g.B) {
    const int64_t b1 = b0 + g.B < nblocks ? b0 + g.B : nblocks;
    for (int64_t t = t0; t < t1; t++) {
      for (int64_t a = 0; a < na; a++) {
        const uint8_t* ta = tables + a * table_stride;
        if (g.R == 128) {
          avx2::lut_tile<8>(g, ta, n0 + a, t, b0, b1);
        } else if (g.R == 64) {
          avx2::lut_tile<4>(g, ta, n0 + a, t, b0, b1);
        } else if (g.R == 32) {
          avx2::lut_tile<2>(g, ta, n0 + a, t, b0, b1);
        } else {
          avx2::lut_tile<1>(g, ta, n0 + a, t, b0, b1);
        }
      }
    }
  }
}

}  // namespace ternion
