// AVX2 + FMA + F16C dense matmuls. n = 1 (decode): one weight row at a time, a single sequential stream of W
// with 4 accumulators. n >= 2: register tile of 4 weight rows × 2 activation rows (8 ymm accumulators, 8
// floats of k per step; 16 registers leave no room for more), scalar k tail, and the same blocking as the
// AVX-512 file: 16 weight rows stay in L2 while X passes over them.
// The int8 kernel uses the sign trick of llama.cpp's AVX2 q8 dot products: vpmaddubsw(|w|, sign(x, w)) is
// exact because |w|, |x| <= 127 keeps every pair sum below 2^15.
#include <immintrin.h>

#include <cstring>

#include "common/fp16.h"
#include "dense/dense_kernels.h"

namespace ternion {
namespace avx2 {

constexpr int kTileRows = 4;
constexpr int kTileX = 2;
constexpr int64_t kBlock = 16;

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

static inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

// Weight loaders: 8 consecutive weights of row `row` from column c0 as f32, plus one scalar for the tail.
struct F32Rows {
  const float* w;
  int64_t k;
  __m256 load(int64_t row, int64_t c0) const { return _mm256_loadu_ps(w + row * k + c0); }
  float at(int64_t row, int64_t c) const { return w[row * k + c]; }
};

struct F16Rows {
  const uint16_t* w;
  int64_t k;
  __m256 load(int64_t row, int64_t c0) const {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + row * k + c0)));
  }
  float at(int64_t row, int64_t c) const { return fp16_to_f32(w[row * k + c]); }
};

// Q8_0: c0 is a multiple of 8 and k of 32, so a load is a quarter of one block and there is no tail.
struct Q8_0Rows {
  const uint8_t* w;
  int64_t row_bytes;
  __m256 load(int64_t row, int64_t c0) const {
    const uint8_t* block = w + row * row_bytes + (c0 / kQ8_0BlockElems) * kQ8_0BlockBytes;
    uint16_t d_bits;
    std::memcpy(&d_bits, block, 2);
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(d_bits));
    const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + (c0 & 24)));
    return _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
  }
  float at(int64_t, int64_t) const { return 0.0f; }  // never called: k % 32 == 0
};

template <int R, int C, typename Rows>
static inline void float_tile(const Rows& rows, const float* x, float* y, int64_t m, int64_t k, int64_t j) {
  __m256 acc[R][C];
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_ps();
  int64_t c0 = 0;
  for (; c0 + 8 <= k; c0 += 8) {
    __m256 wv[C];
    for (int c = 0; c < C; c++) wv[c] = rows.load(j + c, c0);
    for (int r = 0; r < R; r++) {
      const __m256 xv = _mm256_loadu_ps(x + r * k + c0);
      for (int c = 0; c < C; c++) acc[r][c] = _mm256_fmadd_ps(wv[c], xv, acc[r][c]);
    }
  }
  for (int r = 0; r < R; r++) {
    for (int c = 0; c < C; c++) {
      float sum = hsum(acc[r][c]);
      for (int64_t t = c0; t < k; t++) sum += rows.at(j + c, t) * x[r * k + t];
      y[r * m + j + c] = sum;
    }
  }
}

// n = 1 (decode): one weight row at a time so W is read as one sequential stream, 4 accumulators.
template <typename Rows>
static inline void float_stream_row(const Rows& rows, const float* x, float* y, int64_t k, int64_t j) {
  __m256 acc[4];
  for (int u = 0; u < 4; u++) acc[u] = _mm256_setzero_ps();
  int64_t c0 = 0;
  for (; c0 + 32 <= k; c0 += 32) {
    for (int u = 0; u < 4; u++) acc[u] = _mm256_fmadd_ps(rows.load(j, c0 + 8 * u), _mm256_loadu_ps(x + c0 + 8 * u), acc[u]);
  }
  for (; c0 + 8 <= k; c0 += 8) acc[0] = _mm256_fmadd_ps(rows.load(j, c0), _mm256_loadu_ps(x + c0), acc[0]);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; c0 < k; c0++) sum += rows.at(j, c0) * x[c0];
  y[j] = sum;
}

template <typename Rows>
static inline void float_matmul(const Rows& rows, const float* x, float* y, int64_t n, int64_t m, int64_t k,
                                int64_t j0, int64_t j1) {
  if (n == 1) {
    for (int64_t j = j0; j < j1; j++) float_stream_row(rows, x, y, k, j);
    return;
  }
  for (int64_t jb = j0; jb < j1; jb += kBlock) {
    const int64_t je = jb + kBlock < j1 ? jb + kBlock : j1;
    for (int64_t i = 0; i < n; i += kTileX) {
      const float* xi = x + i * k;
      float* yi = y + i * m;
      const bool pair = n - i >= 2;
      int64_t j = jb;
      for (; j + kTileRows <= je; j += kTileRows) {
        if (pair) float_tile<2, kTileRows>(rows, xi, yi, m, k, j);
        else float_tile<1, kTileRows>(rows, xi, yi, m, k, j);
      }
      for (; j < je; j++) {
        if (pair) float_tile<2, 1>(rows, xi, yi, m, k, j);
        else float_tile<1, 1>(rows, xi, yi, m, k, j);
      }
    }
  }
}

template <int R, int C>
static inline void i8_tile(const int8_t* w, const float* w_scales, const int8_t* xq, const float* x_scales, float* y,
                           int64_t m, int64_t k, int64_t j) {
  __m256i acc[R][C];
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) acc[r][c] = _mm256_setzero_si256();
  const __m256i ones16 = _mm256_set1_epi16(1);
  int64_t c0 = 0;
  for (; c0 + 32 <= k; c0 += 32) {
    __m256i wv[C], wabs[C];
    for (int c = 0; c < C; c++) {
      wv[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + (j + c) * k + c0));
      wabs[c] = _mm256_sign_epi8(wv[c], wv[c]);
    }
    for (int r = 0; r < R; r++) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + r * k + c0));
      for (int c = 0; c < C; c++) {
        const __m256i pairs = _mm256_maddubs_epi16(wabs[c], _mm256_sign_epi8(xv, wv[c]));
        acc[r][c] = _mm256_add_epi32(acc[r][c], _mm256_madd_epi16(pairs, ones16));
      }
    }
  }
  for (int r = 0; r < R; r++) {
    for (int c = 0; c < C; c++) {
      int32_t sum = hsum_i32(acc[r][c]);
      const int8_t* wr = w + (j + c) * k;
      const int8_t* xr = xq + r * k;
      for (int64_t t = c0; t < k; t++) sum += static_cast<int32_t>(wr[t]) * static_cast<int32_t>(xr[t]);
      y[r * m + j + c] = static_cast<float>(sum) * (w_scales[j + c] * x_scales[r]);
    }
  }
}

// Row quantisation, bit-exact with the scalar reference (see dense_kernels.h); scalar tail, same rule.
template <typename Rows>
static inline float quantize_row(const Rows& src, int64_t k, int8_t* q) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 vmax = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= k; c += 8) vmax = _mm256_max_ps(_mm256_and_ps(src.load(0, c), abs_mask), vmax);  // NaN ignored
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  float amax = _mm_cvtss_f32(m4);
  for (int64_t t = c; t < k; t++) {
    const float a = __builtin_fabsf(src.at(0, t));
    amax = a > amax ? a : amax;
  }
  const float d = amax / kI8Max;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m256 vid = _mm256_set1_ps(id), lo = _mm256_set1_ps(-kI8Max), hi = _mm256_set1_ps(kI8Max);
  for (c = 0; c + 8 <= k; c += 8) {
    const __m256 r = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(src.load(0, c), vid), lo), hi);  // NaN -> -127
    const __m256i i32 = _mm256_cvtps_epi32(r);
    const __m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + c), _mm_packs_epi16(i16, i16));
  }
  for (; c < k; c++) {
    const __m128 r = _mm_min_ss(_mm_max_ss(_mm_mul_ss(_mm_set_ss(src.at(0, c)), _mm_set_ss(id)), _mm_set_ss(-kI8Max)),
                                _mm_set_ss(kI8Max));
    q[c] = static_cast<int8_t>(_mm_cvtss_si32(r));
  }
  return d;
}

// n = 1: one weight row at a time (a single sequential stream), 2 × 32 weights per step.
static inline void i8_stream_row(const int8_t* w, const float* w_scales, const int8_t* xq, const float* x_scales,
                                 float* y, int64_t k, int64_t j) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  const int8_t* wr = w + j * k;
  int64_t c0 = 0;
  for (; c0 + 64 <= k; c0 += 64) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + c0));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + c0 + 32));
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + c0));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + c0 + 32));
    const __m256i p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(w0, w0), _mm256_sign_epi8(x0, w0));
    const __m256i p1 = _mm256_maddubs_epi16(_mm256_sign_epi8(w1, w1), _mm256_sign_epi8(x1, w1));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, ones16));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(p1, ones16));
  }
  int32_t sum = hsum_i32(_mm256_add_epi32(acc0, acc1));
  for (; c0 < k; c0++) sum += static_cast<int32_t>(wr[c0]) * static_cast<int32_t>(xq[c0]);
  y[j] = static_cast<float>(sum) * (w_scales[j] * x_scales[0]);
}

}  // namespace avx2

float quantize_row_i8_f32_avx2(const float* v, int64_t k, int8_t* q) {
  return avx2::quantize_row(avx2::F32Rows{v, k}, k, q);
}

float quantize_row_i8_f16_avx2(const uint16_t* v, int64_t k, int8_t* q) {
  return avx2::quantize_row(avx2::F16Rows{v, k}, k, q);
}

void matmul_f32_avx2(const float* w, const float* x, float* y, int64_t n, int64_t m, int64_t k, int64_t j0,
                     int64_t j1) {
  avx2::float_matmul(avx2::F32Rows{w, k}, x, y, n, m, k, j0, j1);
}

void matmul_f16_avx2(const uint16_t* w, const float* x, float* y, int64_t n, int64_t m, int64_t k, int64_t j0,
                     int64_t j1) {
  avx2::float_matmul(avx2::F16Rows{w, k}, x, y, n, m, k, j0, j1);
}

void matmul_q8_0_avx2(const uint8_t* w, const float* x, float* y, int64_t n, int64_t m, int64_t k, int64_t j0,
                      int64_t j1) {
  avx2::float_matmul(avx2::Q8_0Rows{w, k / kQ8_0BlockElems * kQ8_0BlockBytes}, x, y, n, m, k, j0, j1);
}

void matmul_i8_avx2(const int8_t* w, const float* w_scales, const int8_t* xq, const float* x_scales, float* y,
                    int64_t n, int64_t m, int64_t k, int64_t j0, int64_t j1) {
  using namespace avx2;
  if (n == 1) {
    for (int64_t j = j0; j < j1; j++) i8_stream_row(w, w_scales, xq, x_scales, y, k, j);
    return;
  }
  for (int64_t jb = j0; jb < j1; jb += kBlock) {
    const int64_t je = jb + kBlock < j1 ? jb + kBlock : j1;
    for (int64_t i = 0; i < n; i += kTileX) {
      const int8_t* xi = xq + i * k;
      const float* xs = x_scales + i;
      float* yi = y + i * m;
      const bool pair = n - i >= 2;
      int64_t j = jb;
      for (; j + kTileRows <= je; j += kTileRows) {
        if (pair) i8_tile<2, kTileRows>(w, w_scales, xi, xs, yi, m, k, j);
        else i8_tile<1, kTileRows>(w, w_scales, xi, xs, yi, m, k, j);
      }
      for (; j < je; j++) {
        if (pair) i8_tile<2, 1>(w, w_scales, xi, xs, yi, m, k, j);
        else i8_tile<1, 1>(w, w_scales, xi, xs, yi, m, k, j);
      }
    }
  }
}

}  // namespace ternion
