// AVX-512 dense matmuls.
//
// Decode-sized n (< 4): one weight row at a time, so W is a single sequential stream (four interleaved row
// streams ran at ~60% of the read bandwidth at n = 1, one stream at ~90-100%), 4 accumulators per x row.
// Larger n: register tile of 4 weight rows × 6 activation rows (24 zmm accumulators, 16 floats of k per step),
// masked loads for the k tail, the 24 sums reduced by one transpose-and-add tree. Weight rows are walked in
// blocks of 16 that stay in L2 while every x tile passes over them, the next block prefetched meanwhile, so W
// is read from DRAM once per call whatever n is. On the 2-core machine we measured (zmm FMA at 1/cycle, ~117
// GFLOP/s per core by a register-only loop) the 4 × 4 tile with 16 horizontal reductions ran the 16 × 32002 ×
// 1536 F16 output GEMM at ~85% of that peak; taller tiles (8 × 2, 12 × 2, 8 × 3), packing W rows to f32 once
// per call, and k-blocking the x tile for L1 all measured slower or no better than this 6 × 4 one, which runs it
// at 7.5 ms (209 GFLOP/s, ~90% of the 2-core peak; the 4 × 4 tile: 7.9 ms), 2 threads.
// The int8 kernel uses vpdpbusd (u8 × s8) with activations offset by +128 to make them unsigned and a Σw
// correction (the trick llama.cpp's AVX-512 VNNI q8 dot products rely on), so integer sums are exact.
// Measured against widening int8 weights to f32 + FMA (same tiling): 15 vs 30 ms for the 128256×2560 GEMV,
// 5.1 vs 5.9 ms for n = 16 on 2560→6912 (one thread), so VNNI stays.
#include <immintrin.h>

// GCC 12 reports its own _mm512_undefined_* placeholders inside vcvtph2ps/vpmovsxbd as uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cstring>

#include "dense/dense_kernels.h"

namespace ternion {
namespace avx512 {

// Float tile: 4 weight rows × 6 activation rows = 24 zmm accumulators + 4 weight vectors + 1 x vector (29 of
// 32 registers). Each widened weight vector feeds 6 FMAs (4 in a 4 × 4 tile) and each x vector 4.
constexpr int kFloatTileRows = 4;
constexpr int kFloatTileX = 6;
constexpr int kFloatMinTileX = 4;     // fewer activation rows take the single-stream GEMV
constexpr int64_t kFloatBlock = 16;   // weight rows kept hot in L2 while all of X passes over them
// Int8 tile: 4 weight rows × 4 activation rows, the same 16-row blocks.
constexpr int kTileRows = 4;
constexpr int kTileX = 4;
constexpr int64_t kBlock = 16;

// acc + Σ (u8 a · s8 b) per 32-bit lane. GCC 12 surrounds the vpdpbusd builtin with register copies (its
// accumulator is tied to the destination), which tripled the instruction count of the 4×4 int8 tile and
// spilled accumulators; the same instruction as a one-line asm with a tied "+v" operand compiles cleanly.
static inline __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
#if defined(__GNUC__) && !defined(__clang__)
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, a, b);
#endif
}

static inline __mmask16 tail_mask16(int64_t len) { return static_cast<__mmask16>((1u << len) - 1u); }

// Weight loaders: 16 consecutive weights of row `row` starting at column c0, widened to f32.
struct F32Rows {
  const float* w;
  int64_t k;
  __m512 load(int64_t row, int64_t c0) const { return _mm512_loadu_ps(w + row * k + c0); }
  const char* row_ptr(int64_t row) const { return reinterpret_cast<const char*>(w + row * k); }
  __m512 load_tail(int64_t row, int64_t c0, __mmask16 mask) const {
    return _mm512_maskz_loadu_ps(mask, w + row * k + c0);
  }
};

struct F16Rows {
  const uint16_t* w;
  int64_t k;
  __m512 load(int64_t row, int64_t c0) const {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + row * k + c0)));
  }
  const char* row_ptr(int64_t row) const { return reinterpret_cast<const char*>(w + row * k); }
  __m512 load_tail(int64_t row, int64_t c0, __mmask16 mask) const {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, w + row * k + c0));
  }
};

// Q8_0: c0 is a multiple of 16, so a load is one half of a 32-weight block; d · q like the reference.
struct Q8_0Rows {
  const uint8_t* w;
  int64_t row_bytes;
  const char* row_ptr(int64_t row) const { return reinterpret_cast<const char*>(w + row * row_bytes); }
  __m512 load(int64_t row, int64_t c0) const {
    const uint8_t* block = w + row * row_bytes + (c0 / kQ8_0BlockElems) * kQ8_0BlockBytes;
    uint16_t d_bits;
    std::memcpy(&d_bits, block, 2);
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(d_bits));
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2 + (c0 & 16)));
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)));
  }
  __m512 load_tail(int64_t row, int64_t c0, __mmask16) const { return load(row, c0); }  // k % 32 == 0
};

// Sums of 16 accumulators at once: out lane i = Σ lanes of a[i]. Each level adds pairs after interleaving them
// (unpack ps, unpack pd, then two 128-bit shuffles), so 15 adds and 30 shuffles serve all 16 sums where 16
// separate horizontal reductions take 64 of each (~5% of a 4 × 4 tile's instructions at k = 1536).
static inline __m512 transpose_sum16(const __m512* a) {
  __m512 b[8], c[4], d[2];
  for (int i = 0; i < 8; i++)  // 128-bit quarter q of b[i]: a[2i] and a[2i+1] interleaved, 2 partials each
    b[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
  for (int i = 0; i < 4; i++) {  // quarter q of c[i]: one partial of each of a[4i .. 4i+3]
    const __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(b[2 * i]), _mm512_castps_pd(b[2 * i + 1]));
    const __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(b[2 * i]), _mm512_castps_pd(b[2 * i + 1]));
    c[i] = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
  }
  for (int i = 0; i < 2; i++)  // quarters: c[2i] q0+q1, c[2i] q2+q3, c[2i+1] q0+q1, c[2i+1] q2+q3
    d[i] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// y[r, j + c] for r < R activation rows (x, y already offset to the first one), c < C weight rows: R·C zmm
// accumulators, C weight vectors widened once per step and each x vector loaded once into a register.
// It also prefetches the lines [pf, pf_end) into L2 (one per step of c0, the rest after the loop): weights
// that a later tile reads from DRAM stream in while this one computes.
template <int R, int C, typename Rows>
static inline void float_tile(const Rows& rows, const float* x, float* y, int64_t m, int64_t k, int64_t j,
                              const char* pf, const char* pf_end) {
  __m512 acc[R * C];
#pragma GCC unroll 32
  for (int i = 0; i < R * C; i++) acc[i] = _mm512_setzero_ps();
  int64_t c0 = 0;
  for (; c0 + 16 <= k; c0 += 16) {
    if (pf < pf_end) {
      _mm_prefetch(pf, _MM_HINT_T1);
      pf += 64;
    }
    __m512 wv[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) wv[c] = rows.load(j + c, c0);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      __m512 xv = _mm512_loadu_ps(x + r * k + c0);
      // Pin xv to a register: left alone, GCC folds the load into every one of the C FMAs (C loads per x
      // vector instead of one), which made the 6- and 8-row tiles load-bound.
      __asm__("" : "+v"(xv));
#pragma GCC unroll 8
      for (int c = 0; c < C; c++) acc[r * C + c] = _mm512_fmadd_ps(wv[c], xv, acc[r * C + c]);
    }
  }
  if (c0 < k) {
    const __mmask16 mask = tail_mask16(k - c0);
    __m512 wv[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; c++) wv[c] = rows.load_tail(j + c, c0, mask);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + r * k + c0);
#pragma GCC unroll 8
      for (int c = 0; c < C; c++) acc[r * C + c] = _mm512_fmadd_ps(wv[c], xv, acc[r * C + c]);
    }
  }
  for (; pf < pf_end; pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
  if (R * C <= 2) {
    for (int r = 0; r < R; r++)
      for (int c = 0; c < C; c++) y[r * m + j + c] = _mm512_reduce_add_ps(acc[r * C + c]);
    return;
  }
  constexpr int kGroups = (R * C + 15) / 16;
  alignas(64) float sums[kGroups * 16];  // (R, C) then padding
#pragma GCC unroll 2
  for (int g = 0; g < kGroups; g++) {
    __m512 v[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) v[i] = g * 16 + i < R * C ? acc[g * 16 + i] : _mm512_setzero_ps();
    _mm512_store_ps(sums + 16 * g, transpose_sum16(v));
  }
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) y[r * m + j + c] = sums[r * C + c];
}

// The tile for the `rows_left` (<= R) activation rows of the current x tile.
template <int R, int C, typename Rows>
static inline void float_column(int rows_left, const Rows& rows, const float* x, float* y, int64_t m, int64_t k,
                                int64_t j, const char* pf, const char* pf_end) {
  if constexpr (R > 1) {
    if (rows_left < R) return float_column<R - 1, C>(rows_left, rows, x, y, m, k, j, pf, pf_end);
  }
  float_tile<R, C>(rows, x, y, m, k, j, pf, pf_end);
}

// Decode-sized n (< kFloatMinTileX): one weight row at a time, so W is read as a single sequential stream (four
// interleaved row streams measured ~30% slower at n = 1), with 4 independent accumulators per x row to hide
// FMA latency.
template <int R, typename Rows>
static inline void float_stream_row(const Rows& rows, const float* x, float* y, int64_t m, int64_t k, int64_t j) {
  __m512 acc[R][4];
  for (int r = 0; r < R; r++)
    for (int u = 0; u < 4; u++) acc[r][u] = _mm512_setzero_ps();
  int64_t c0 = 0;
  for (; c0 + 64 <= k; c0 += 64) {
    __m512 wv[4];
    for (int u = 0; u < 4; u++) wv[u] = rows.load(j, c0 + 16 * u);
    for (int r = 0; r < R; r++)
      for (int u = 0; u < 4; u++) acc[r][u] = _mm512_fmadd_ps(wv[u], _mm512_loadu_ps(x + r * k + c0 + 16 * u), acc[r][u]);
  }
  for (; c0 < k; c0 += 16) {
    const __mmask16 mask = k - c0 >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask16(k - c0);
    const __m512 wv = rows.load_tail(j, c0, mask);
    for (int r = 0; r < R; r++) acc[r][0] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mask, x + r * k + c0), acc[r][0]);
  }
  for (int r = 0; r < R; r++) {
    y[r * m + j] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]), _mm512_add_ps(acc[r][2], acc[r][3])));
  }
}

template <typename Rows>
static inline void float_matmul(const Rows& rows, const float* x, float* y, int64_t n, int64_t m, int64_t k,
                                int64_t j0, int64_t j1) {
  if (n < kFloatMinTileX) {
    for (int64_t j = j0; j < j1; j++) {
      if (n == 1) float_stream_row<1>(rows, x, y, m, k, j);
      else if (n == 2) float_stream_row<2>(rows, x, y, m, k, j);
      else float_stream_row<3>(rows, x, y, m, k, j);
    }
    return;
  }
  // X tiles of near-equal height: 13 rows run as 5 + 4 + 4, not 6 + 6 + 1 (a 1-row tile widens each weight
  // vector for a single FMA).
  const int64_t tiles = (n + kFloatTileX - 1) / kFloatTileX;
  const int64_t base = n / tiles, extra = n % tiles;
  // Each tile call prefetches an equal slice of the next block's rows, so the block's DRAM traffic is spread
  // over the current block's compute (without it the first x tile of every block waited on DRAM: n = 16 ran
  // at ~25% of the FMA peak).
  for (int64_t jb = j0; jb < j1; jb += kFloatBlock) {
    const int64_t je = jb + kFloatBlock < j1 ? jb + kFloatBlock : j1;
    const int64_t ne = je + kFloatBlock < j1 ? je + kFloatBlock : j1;
    const char* pf = rows.row_ptr(je);
    const char* const pf_end = rows.row_ptr(ne);
    const int64_t calls = tiles * ((je - jb) / kFloatTileRows + (je - jb) % kFloatTileRows);
    const int64_t slice = 64 * (((pf_end - pf) / 64 + calls - 1) / calls);  // bytes per call
    int64_t i = 0;
    for (int64_t t = 0; t < tiles; t++) {
      const int h = static_cast<int>(base + (t < extra ? 1 : 0));
      const float* xt = x + i * k;  // (h, k)
      float* yt = y + i * m;        // (h, m)
      int64_t j = jb;
      for (; j + kFloatTileRows <= je; j += kFloatTileRows, pf += slice) {
        const char* const pf_stop = pf + slice < pf_end ? pf + slice : pf_end;
        float_column<kFloatTileX, kFloatTileRows>(h, rows, xt, yt, m, k, j, pf, pf_stop);
      }
      for (; j < je; j++, pf += slice) {
        float_column<kFloatTileX, 1>(h, rows, xt, yt, m, k, j, pf, pf + slice < pf_end ? pf + slice : pf_end);
      }
      i += h;
    }
  }
}

// Int8: 64 weights per step; acc += (x + 128) · w, corr += 1 · w, so Σ x·w = acc − 128 · corr.
template <int R, int C>
static inline void i8_tile(const int8_t* w, const float* w_scales, const int8_t* xq, const float* x_scales, float* y,
                           int64_t m, int64_t k, int64_t j) {
  __m512i acc[R][C];
  __m512i corr[C];
  for (int c = 0; c < C; c++) {
    corr[c] = _mm512_setzero_si512();
    for (int r = 0; r < R; r++) acc[r][c] = _mm512_setzero_si512();
  }
  const __m512i ones = _mm512_set1_epi8(1);
  const __m512i offset = _mm512_set1_epi8(static_cast<char>(0x80));
  int64_t c0 = 0;
  for (; c0 + 64 <= k; c0 += 64) {
    __m512i wv[C];
    for (int c = 0; c < C; c++) {
      wv[c] = _mm512_loadu_si512(w + (j + c) * k + c0);
      corr[c] = dpbusd(corr[c], ones, wv[c]);
    }
    for (int r = 0; r < R; r++) {
      const __m512i xu = _mm512_xor_si512(_mm512_loadu_si512(xq + r * k + c0), offset);
      for (int c = 0; c < C; c++) acc[r][c] = dpbusd(acc[r][c], xu, wv[c]);
    }
  }
  if (c0 < k) {
    // Zero-filled lanes past k contribute 0 to both sums (their weight is 0).
    const __mmask64 mask = (__mmask64{1} << (k - c0)) - 1;
    __m512i wv[C];
    for (int c = 0; c < C; c++) {
      wv[c] = _mm512_maskz_loadu_epi8(mask, w + (j + c) * k + c0);
      corr[c] = dpbusd(corr[c], ones, wv[c]);
    }
    for (int r = 0; r < R; r++) {
      const __m512i xu = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, xq + r * k + c0), offset);
      for (int c = 0; c < C; c++) acc[r][c] = dpbusd(acc[r][c], xu, wv[c]);
    }
  }
  for (int c = 0; c < C; c++) {
    // The offset sum may wrap int32 for large k; the true Σ x·w fits, so wrap-around arithmetic recovers it.
    const uint32_t wsum = static_cast<uint32_t>(_mm512_reduce_add_epi32(corr[c]));
    for (int r = 0; r < R; r++) {
      const int32_t sum = static_cast<int32_t>(static_cast<uint32_t>(_mm512_reduce_add_epi32(acc[r][c])) - 128u * wsum);
      y[r * m + j + c] = static_cast<float>(sum) * (w_scales[j + c] * x_scales[r]);
    }
  }
}

// Decode-sized n: one weight row at a time (a single sequential stream), 2 × 64 weights per step.
template <int R>
static inline void i8_stream_row(const int8_t* w, const float* w_scales, const int8_t* xq, const float* x_scales,
                                 float* y, int64_t m, int64_t k, int64_t j) {
  __m512i acc[R][2];
  __m512i corr[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  const __m512i ones = _mm512_set1_epi8(1);
  const __m512i offset = _mm512_set1_epi8(static_cast<char>(0x80));
  const int8_t* wr = w + j * k;
  int64_t c0 = 0;
  for (; c0 + 128 <= k; c0 += 128) {
    const __m512i w0 = _mm512_loadu_si512(wr + c0), w1 = _mm512_loadu_si512(wr + c0 + 64);
    corr[0] = dpbusd(corr[0], ones, w0);
    corr[1] = dpbusd(corr[1], ones, w1);
    for (int r = 0; r < R; r++) {
      const __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(xq + r * k + c0), offset);
      const __m512i x1 = _mm512_xor_si512(_mm512_loadu_si512(xq + r * k + c0 + 64), offset);
      acc[r][0] = dpbusd(acc[r][0], x0, w0);
      acc[r][1] = dpbusd(acc[r][1], x1, w1);
    }
  }
  for (; c0 < k; c0 += 64) {
    const __mmask64 mask = k - c0 >= 64 ? ~__mmask64{0} : (__mmask64{1} << (k - c0)) - 1;
    const __m512i w0 = _mm512_maskz_loadu_epi8(mask, wr + c0);
    corr[0] = dpbusd(corr[0], ones, w0);
    for (int r = 0; r < R; r++) {
      const __m512i x0 = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, xq + r * k + c0), offset);
      acc[r][0] = dpbusd(acc[r][0], x0, w0);
    }
  }
  const uint32_t wsum = static_cast<uint32_t>(_mm512_reduce_add_epi32(_mm512_add_epi32(corr[0], corr[1])));
  for (int r = 0; r < R; r++) {
    const uint32_t raw = static_cast<uint32_t>(_mm512_reduce_add_epi32(_mm512_add_epi32(acc[r][0], acc[r][1])));
    y[r * m + j] = static_cast<float>(static_cast<int32_t>(raw - 128u * wsum)) * (w_scales[j] * x_scales[r]);
  }
}

template <int C>
static inline void i8_column(const int8_t* w, const float* ws, const int8_t* xq, const float* xs, float* y, int64_t n,
                             int64_t m, int64_t k, int64_t i0, int64_t j) {
  switch (n - i0) {
    case 1:
      return i8_tile<1, C>(w, ws, xq + i0 * k, xs + i0, y + i0 * m, m, k, j);
    case 2:
      return i8_tile<2, C>(w, ws, xq + i0 * k, xs + i0, y + i0 * m, m, k, j);
    case 3:
      return i8_tile<3, C>(w, ws, xq + i0 * k, xs + i0, y + i0 * m, m, k, j);
    default:
      return i8_tile<4, C>(w, ws, xq + i0 * k, xs + i0, y + i0 * m, m, k, j);
  }
}

// Row quantisation (see dense_kernels.h for why this equals the scalar reference bit for bit).
template <typename Load>
static inline float quantize_row(Load load, int64_t k, int8_t* q) {
  __m512 vmax = _mm512_setzero_ps();
  for (int64_t c = 0; c < k; c += 16) {
    const __mmask16 mask = k - c >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask16(k - c);
    // max(|v|, vmax) returns vmax when |v| is NaN: NaN is ignored like fmax does.
    vmax = _mm512_max_ps(_mm512_abs_ps(load(c, mask)), vmax);
  }
  const float d = _mm512_reduce_max_ps(vmax) / kI8Max;
  const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
  for (int64_t c = 0; c < k; c += 16) {
    const __mmask16 mask = k - c >= 16 ? static_cast<__mmask16>(0xffff) : tail_mask16(k - c);
    __m512 r = _mm512_mul_ps(load(c, mask), id);
    r = _mm512_min_ps(_mm512_max_ps(r, _mm512_set1_ps(-kI8Max)), _mm512_set1_ps(kI8Max));  // NaN -> -127
    _mm512_mask_cvtsepi32_storeu_epi8(q + c, mask, _mm512_cvtps_epi32(r));
  }
  return d;
}

}  // namespace avx512

float quantize_row_i8_f32_avx512(const float* v, int64_t k, int8_t* q) {
  return avx512::quantize_row([v](int64_t c, __mmask16 m) { return _mm512_maskz_loadu_ps(m, v + c); }, k, q);
}

float quantize_row_i8_f16_avx512(const uint16_t* v, int64_t k, int8_t* q) {
  return avx512::quantize_row(
      [v](int64_t c, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, v + c)); }, k, q);
}

void matmul_f32_avx512(const float* w, const float* x, float* y, int64_t n, int64_t m, int64_t k, int64_t j0,
                       int64_t j1) {
  avx512::float_matmul(avx512::F32Rows{w, k}, x, y, n, m, k, j0, j1);
}

void matmul_f16_avx512(const uint16_t* w, const float* x, float* y, int64_t n, int64_t m, int64_t k, int64_t j0,
                       int64_t j1) {
  avx512::float_matmul(avx512::F16Rows{w, k}, x, y, n, m, k, j0, j1);
}

void matmul_q8_0_avx512(const uint8_t* w, const float* x, float* y, int64_t n, int64_t m, int64_t k, int64_t j0,
                        int64_t j1) {
  const int64_t row_bytes = k / kQ8_0BlockElems * kQ8_0BlockBytes;
  avx512::float_matmul(avx512::Q8_0Rows{w, row_bytes}, x, y, n, m, k, j0, j1);
}

void matmul_i8_avx512(const int8_t* w, const float* w_scales, const int8_t* xq, const float* x_scales, float* y,
                      int64_t n, int64_t m, int64_t k, int64_t j0, int64_t j1) {
  using namespace avx512;
  if (n < kTileX) {
    for (int64_t j = j0; j < j1; j++) {
      if (n == 1) i8_stream_row<1>(w, w_scales, xq, x_scales, y, m, k, j);
      else if (n == 2) i8_stream_row<2>(w, w_scales, xq, x_scales, y, m, k, j);
      else i8_stream_row<3>(w, w_scales, xq, x_scales, y, m, k, j);
    }
    return;
  }
  for (int64_t jb = j0; jb < j1; jb += kBlock) {
    const int64_t je = jb + kBlock < j1 ? jb + kBlock : j1;
    for (int64_t i = 0; i < n; i += kTileX) {
      int64_t j = jb;
      for (; j + kTileRows <= je; j += kTileRows) i8_column<kTileRows>(w, w_scales, xq, x_scales, y, n, m, k, i, j);
      for (; j < je; j++) i8_column<1>(w, w_scales, xq, x_scales, y, n, m, k, i, j);
    }
  }
}

}  // namespace ternion
