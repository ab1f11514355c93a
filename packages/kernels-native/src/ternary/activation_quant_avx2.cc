// AVX2 activation quantization (activation_quant.h): the AVX-512 kernel's method on 8 lanes, bit-exact with
// the scalar reference. Maxima on the float bit patterns, the scalar's own float operations per lane, int32
// lane sums. A 256-group does not fit in 16 ymm registers, so it is read twice (the second time from L1).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "ternary/activation_quant.h"

namespace ternion {
namespace avx2 {
namespace {

// |x| patterns order like |x|, and every NaN sorts above +Inf (see the AVX-512 kernel).
static inline __m256i abs_bits(__m256i b) { return _mm256_and_si256(b, _mm256_set1_epi32(0x7fffffff)); }

// The 8 values at x, of which only the first n (any n; clamped to [0, 8]) are read, the rest zero.
static inline __m256i load8(const float* x, int64_t n) {
  if (n >= 8) return _mm256_castps_si256(_mm256_loadu_ps(x));
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n > 0 ? n : 0)), lanes);
  return _mm256_castps_si256(_mm256_maskload_ps(x, mask));
}

// ternion::nearest_int on 8 lanes.
static inline __m256i nearest_int8(__m256 f) {
  const __m256i b = _mm256_castps_si256(_mm256_add_ps(f, _mm256_set1_ps(12582912.f)));
  return _mm256_sub_epi32(_mm256_and_si256(b, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
}

static inline __m128i fold(__m256i v) { return _mm256_extracti128_si256(v, 1); }
static inline int32_t hmax_epi32(__m256i v) {
  __m128i m = _mm_max_epi32(_mm256_castsi256_si128(v), fold(v));
  m = _mm_max_epi32(m, _mm_shuffle_epi32(m, 0x4e));
  return _mm_cvtsi128_si32(_mm_max_epi32(m, _mm_shuffle_epi32(m, 0xb1)));
}
static inline uint32_t hmax_epu32(__m256i v) {
  __m128i m = _mm_max_epu32(_mm256_castsi256_si128(v), fold(v));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0x4e));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_max_epu32(m, _mm_shuffle_epi32(m, 0xb1))));
}
static inline int32_t hsum_epi32(__m256i v) {
  __m128i m = _mm_add_epi32(_mm256_castsi256_si128(v), fold(v));
  m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0x4e));
  return _mm_cvtsi128_si32(_mm_add_epi32(m, _mm_shuffle_epi32(m, 0xb1)));
}

// q (32) = a, b, c, d (8 int32 each, all in [-128, 127]) narrowed: the two saturating packs leave, per
// 128-bit lane l, the bytes a_l b_l c_l d_l (4 each); one dword permute restores the order.
static inline void store_int8x32(int8_t* q, __m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i abcd = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_permutevar8x32_epi32(abcd, order));
}

// static_cast<int8_t> of each int32: its low byte, sign-extended (so the packs keep it).
static inline __m256i low_byte(__m256i v) { return _mm256_srai_epi32(_mm256_slli_epi32(v, 24), 24); }


// clamp(nearest_int(x * s), -128, 127) on 8 lanes.
static inline __m256i token8(__m256i x, __m256 s) {
  const __m256i v = nearest_int8(_mm256_mul_ps(_mm256_castsi256_ps(x), s));
  return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(-128)), _mm256_set1_epi32(127));
}

// One 256-group, 0 < len <= 256 real values.
static inline void q8k_block(const float* x, int64_t len, int8_t* q /* (256) */, float* d, int32_t* sum) {
  __m256i smax[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};  // raw patterns (group_max_from_bits)
  __m256i umax[2] = {smax[0], smax[0]};
  for (int k = 0; k < 32; k++) {
    const __m256i b = load8(x + 8 * k, len - 8 * k);
    smax[k % 2] = _mm256_max_epi32(smax[k % 2], b);
    umax[k % 2] = _mm256_max_epu32(umax[k % 2], b);
  }
  const GroupMax gm = group_max_from_bits(hmax_epi32(_mm256_max_epi32(smax[0], smax[1])),
                                          hmax_epu32(_mm256_max_epu32(umax[0], umax[1])));
  if (q8k_block_settled(gm, x, len, q, d, sum)) return;
  float max = float_of_bits(gm.max_bits);
  if (gm.both_signs) {
    // Padding (|x| = 0) never matches.
    const __m256i target = _mm256_set1_epi32(static_cast<int>(gm.amax_bits));
    for (int k = 0; k < 32; k++) {
      const __m256i hit = _mm256_cmpeq_epi32(abs_bits(load8(x + 8 * k, len - 8 * k)), target);
      const int bits = _mm256_movemask_ps(_mm256_castsi256_ps(hit));
      if (bits) {
        max = x[8 * k + __builtin_ctz(bits)];
        break;
      }
    }
  }
  const float iscale = -127.f / max;
  const __m256 vi = _mm256_set1_ps(iscale);
  __m256i acc = _mm256_setzero_si256();
  for (int k = 0; k < 32; k += 4) {
    __m256i n[4];
    for (int u = 0; u < 4; u++) {
      const __m256 xv = _mm256_castsi256_ps(load8(x + 8 * (k + u), len - 8 * (k + u)));
      n[u] = _mm256_min_epi32(nearest_int8(_mm256_mul_ps(vi, xv)), _mm256_set1_epi32(127));
      acc = _mm256_add_epi32(acc, n[u]);  // the sum takes q before the int8 cast, as the scalar one does
    }
    // Below -128 only when -127 / max overflowed (denormal max): q is then the int8 cast, not a clamp.
    store_int8x32(q + 8 * k, low_byte(n[0]), low_byte(n[1]), low_byte(n[2]), low_byte(n[3]));
  }
  *d = 1 / iscale;
  *sum = hsum_epi32(acc);
}

}  // namespace
}  // namespace avx2

void quantize_row_per_token_avx2(const float* x /* (cols) */, int64_t cols, int64_t kp, int8_t* q /* (kp) */,
                                 float* scale, int32_t* sum) {
  using namespace avx2;
  __m256i m0 = _mm256_setzero_si256(), m1 = m0, m2 = m0, m3 = m0;
  int64_t i = 0;
  for (; i + 32 <= cols; i += 32) {
    m0 = _mm256_max_epu32(m0, abs_bits(load8(x + i, 8)));
    m1 = _mm256_max_epu32(m1, abs_bits(load8(x + i + 8, 8)));
    m2 = _mm256_max_epu32(m2, abs_bits(load8(x + i + 16, 8)));
    m3 = _mm256_max_epu32(m3, abs_bits(load8(x + i + 24, 8)));
  }
  for (; i < cols; i += 8) m0 = _mm256_max_epu32(m0, abs_bits(load8(x + i, cols - i)));
  const uint32_t amax_bits = hmax_epu32(_mm256_max_epu32(_mm256_max_epu32(m0, m1), _mm256_max_epu32(m2, m3)));
  if (amax_bits > kF32InfBits) {
    quantize_row_per_token_generic(x, cols, kp, q, scale, sum);
    return;
  }
  const float s = per_token_scale_from_bits(amax_bits);
  const __m256 vs = _mm256_set1_ps(s);
  __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  // kp is a multiple of 32; the ragged end and the padding load zeros, which quantize to 0 (s is finite).
  for (i = 0; i < kp; i += 32) {
    const __m256i a0 = token8(load8(x + i, cols - i), vs);
    const __m256i a1 = token8(load8(x + i + 8, cols - i - 8), vs);
    const __m256i a2 = token8(load8(x + i + 16, cols - i - 16), vs);
    const __m256i a3 = token8(load8(x + i + 24, cols - i - 24), vs);
    store_int8x32(q + i, a0, a1, a2, a3);
    acc0 = _mm256_add_epi32(acc0, a0);
    acc1 = _mm256_add_epi32(acc1, a1);
    acc2 = _mm256_add_epi32(acc2, a2);
    acc3 = _mm256_add_epi32(acc3, a3);
  }
  *scale = 1.f / s;
  *sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(acc0, acc1), _mm256_add_epi32(acc2, acc3)));
}

void quantize_row_per_block_avx2(const float* x, int64_t cols, int64_t kp, int8_t* q, float* d, int32_t* sums) {
  quantize_row_per_block_with(
      [](const float* xg, int64_t len, int8_t* qg, float* dg, int32_t* sg) { avx2::q8k_block(xg, len, qg, dg, sg); },
      x, cols, kp, q, d, sums);
}

}  // namespace ternion
