// AVX-512 VNNI ternary GEMM. `vpdpbusd` multiplies the u8 codes (0/1/2) by the s8 activations and adds groups
// of four into int32 lanes without saturation, so one instruction does 64 multiply-adds exactly.
//   N = 1:  16 weight rows x 1 activation row per tile (gemv16); each 64-byte block is loaded once and split
//           into its 4 code planes in registers, the next tile's weights are prefetched into L2.
//   N >= kOuterMinN (8): the outer-product kernel of ternary_outer_avx512.cc (dispatched by ternary_matmul.cc).
//   N = 2..7: register tiles of MR weight rows x NR activation rows (4 x 4, tails 8 x 2, 5 x 3, 16 x 1): each
//           unpacked code plane feeds NR vpdpbusd, so per-token tiles run at ~85% of the measured vpdpbusd
//           throughput (one per cycle, 3.6/ns on this Zen 5); the tiles walk a 64-row chunk of weights kept
//           in L1/L2 while every activation tile passes over it, and each tile prefetches a slice of the
//           weights half a chunk ahead.
// Tiles end in 16-way transpose-reductions (16 horizontal sums for ~3 instructions each) — once per tile for
// per-token activations, once per block for per-block-256 (tile4x4_block makes that one cheaper) — and apply
// the float formulas of ternary_matmul.h, so results equal the scalar reference bit for bit.
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

// Lane i of the result = v[i % NR]: the activation row of accumulator lane r * NR + j.
template <int NR>
static inline __m512i lanes_epi32(const int32_t* v) {
  if (NR == 1) return _mm512_set1_epi32(v[0]);
  if (NR == 2) {
    return _mm512_set1_epi64(static_cast<int64_t>(static_cast<uint64_t>(v[1]) << 32 | static_cast<uint32_t>(v[0])));
  }
  const __m128i x = _mm_set_epi32(v[NR > 3 ? 3 : 0], v[2], v[1], v[0]);
  if (NR == 4) return _mm512_broadcast_i32x4(x);
  return _mm512_permutexvar_epi32(_mm512_set_epi32(0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0),
                                  _mm512_castsi128_si512(x));
}
template <int NR>
static inline __m512 lanes_ps(const float* v) {
  if (NR == 1) return _mm512_set1_ps(v[0]);
  const __m128 x = _mm_set_ps(v[NR > 3 ? 3 : 0], v[NR > 2 ? 2 : 0], v[1], v[0]);
  if (NR == 2) return _mm512_castpd_ps(_mm512_broadcastsd_pd(_mm_castps_pd(x)));
  if (NR == 4) return _mm512_broadcast_f32x4(x);
  return _mm512_permutexvar_ps(_mm512_set_epi32(0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0),
                               _mm512_castps128_ps512(x));
}

// Lane i -> i / NR: the weight row of accumulator lane r * NR + j.
template <int NR>
static inline __m512i row_of_lane() {
  return _mm512_set_epi32(15 / NR, 14 / NR, 13 / NR, 12 / NR, 11 / NR, 10 / NR, 9 / NR, 8 / NR, 7 / NR, 6 / NR,
                          5 / NR, 4 / NR, 3 / NR, 2 / NR, 1 / NR, 0);
}

// MR weight rows [m, m + rows) x NR activation rows [n, n + nrows), walking all of K. Accumulator r * NR + j
// holds (row r, activation j). Each 64-code plane of a weight row is unpacked (one shift, one AND) once and fed
// to NR vpdpbusd, so the unpack costs 2 / NR ALU ops per multiply instead of 2 (register blocking, as in the
// GotoBLAS micro-kernel: Goto & van de Geijn, "Anatomy of high-performance matrix multiplication", TOMS 2008).
// Registers: MR * NR accumulators + NR activation planes + 1 code plane + the mask <= 32 zmm.
// MR * NR <= 16, so one transpose-reduction covers the tile: once at the end for per-token activations, once
// per block for per-block-256 (which needs every block's exact int32 sum).
// Per block it also prefetches `pf_lines` cache lines of weights that a later chunk will read (pf, null = none)
// into L2, so DRAM streams while the tile computes.
template <int MR, int NR, bool kPerBlock>
static inline void tile(const TernaryGemm& g, int64_t m, int rows, int64_t n, int nrows, const uint8_t* pf,
                        int64_t pf_lines) {
  constexpr int kAcc = MR * NR;
  static_assert(kAcc <= 16 && NR <= 4, "one transpose-reduction of at most 16 accumulators per tile or block");
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t groups = kPerBlock ? nblocks : 1;
  const int64_t row_bytes = g.Kp / 4;
  const uint8_t* wr[MR];
  const int8_t* ar[NR];
  int64_t an[NR];
  for (int r = 0; r < MR; r++) wr[r] = g.w + (m + (r < rows ? r : rows - 1)) * row_bytes;
  for (int j = 0; j < NR; j++) {
    an[j] = n + (j < nrows ? j : nrows - 1);
    ar[j] = g.q + an[j] * g.Kp;
  }
  const __m512i mask = _mm512_set1_epi8(3);

  __m512i acc[16];  // lanes >= kAcc stay 0 for reduce16
  for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_si512();
  __m512 accf = _mm512_setzero_ps();
  for (int64_t b = 0; b < nblocks; b++) {
    if (kPerBlock) {
      for (int i = 0; i < kAcc; i++) acc[i] = _mm512_setzero_si512();
    }
    if (pf != nullptr) {
      for (int64_t i = 0; i < pf_lines; i++) {
        _mm_prefetch(reinterpret_cast<const char*>(pf + (b * pf_lines + i) * 64), _MM_HINT_T1);
      }
    }
    for (int p = 0; p < 4; p++) {
      __m512i a[NR];
      for (int j = 0; j < NR; j++) a[j] = _mm512_loadu_si512(ar[j] + b * kPackedBlockWeights + 64 * p);
      for (int r = 0; r < MR; r++) {
        const __m512i w = _mm512_loadu_si512(wr[r] + b * kPackedBlockBytes);
        const __m512i plane = _mm512_and_si512(p == 0 ? w : _mm512_srli_epi16(w, 2 * p), mask);
        for (int j = 0; j < NR; j++) acc[r * NR + j] = _mm512_dpbusd_epi32(acc[r * NR + j], plane, a[j]);
      }
    }
    if (kPerBlock) {
      float as[NR];
      int32_t sums[NR];
      for (int j = 0; j < NR; j++) {
        as[j] = g.a_scales[an[j] * groups + b];
        sums[j] = g.a_sums[an[j] * groups + b];
      }
      const __m512i isum = _mm512_sub_epi32(reduce16(acc), lanes_epi32<NR>(sums));
      // ternary_block_step: acc + (float)isum_b * a_scale_b
      accf = _mm512_add_ps(accf, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), lanes_ps<NR>(as)));
    }
  }
  if (kPerBlock) {
    alignas(64) float out[16];
    _mm512_store_ps(out, accf);
    for (int r = 0; r < rows; r++) {
      for (int j = 0; j < nrows; j++) {
        g.y[(n + j) * g.M + m + r] = ternary_out_per_block(out[r * NR + j], g.w_scales[m + r]);
      }
    }
    return;
  }
  // ternary_out_per_token lane-wise: (float)(isum - sum_q) * (a_scale * w_scale), lane r * NR + j.
  float as_j[NR];
  int32_t sums_j[NR];
  for (int j = 0; j < NR; j++) {
    as_j[j] = g.a_scales[an[j]];
    sums_j[j] = g.a_sums[an[j]];
  }
  const __m512i isum = _mm512_sub_epi32(reduce16(acc), lanes_epi32<NR>(sums_j));
  const __m512 as = lanes_ps<NR>(as_j);
  const __mmask16 row_mask = static_cast<__mmask16>((1u << rows) - 1);
  const __m512 ws = _mm512_permutexvar_ps(row_of_lane<NR>(), _mm512_maskz_loadu_ps(row_mask, g.w_scales + m));
  alignas(64) float out[16];
  _mm512_store_ps(out, _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(as, ws)));
  for (int r = 0; r < rows; r++) {
    for (int j = 0; j < nrows; j++) g.y[(n + j) * g.M + m + r] = out[r * NR + j];
  }
}

// Largest Kp whose diagonal activations (4 * Kp bytes) `pass` keeps on the stack for tile4x4_block.
constexpr int64_t kDiagMaxCols = 8192;

// For each 64-byte piece c of K (block c / 4, plane c % 4) and s = 0..3: diag[256 c + 64 s + 16 t + i] =
// q[row (t + s) % 4][64 c + 16 t + i] over the activation rows n .. n + 3 (the last repeated past nrows): the
// diagonal planes of tile4x4_block, built once per chunk pass (3 blends per 64 bytes) for its 16 tiles.
// Also block_sums[b] / block_scales[b]: lane 4t + r = a_sums / a_scales of (activation t, block b), the lane
// order of tile4x4_block's sums, so a block's float step takes two loads.
static inline void build_diag(const TernaryGemm& g, int64_t n, int nrows, int8_t* diag /* (Kp / 64, 4, 64) */,
                              int32_t* block_sums /* (Kp / 256, 16) */, float* block_scales /* (Kp / 256, 16) */) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int8_t* ar[4];
  int64_t an[4];
  for (int i = 0; i < 4; i++) {
    an[i] = n + (i < nrows ? i : nrows - 1);
    ar[i] = g.q + an[i] * g.Kp;
  }
  for (int64_t b = 0; b < nblocks; b++) {
    for (int t = 0; t < 4; t++) {
      for (int r = 0; r < 4; r++) {
        block_sums[16 * b + 4 * t + r] = g.a_sums[an[t] * nblocks + b];
        block_scales[16 * b + 4 * t + r] = g.a_scales[an[t] * nblocks + b];
      }
    }
  }
  for (int64_t c = 0; c < g.Kp / 64; c++) {
    const __m512i x0 = _mm512_loadu_si512(ar[0] + 64 * c), x1 = _mm512_loadu_si512(ar[1] + 64 * c);
    const __m512i x2 = _mm512_loadu_si512(ar[2] + 64 * c), x3 = _mm512_loadu_si512(ar[3] + 64 * c);
    const __m512i x[4] = {x0, x1, x2, x3};
    for (int s = 0; s < 4; s++) {  // quarter t from row (t + s) % 4
      __m512i v = x[s];
      v = _mm512_mask_blend_epi32(0x00F0, v, x[(1 + s) & 3]);
      v = _mm512_mask_blend_epi32(0x0F00, v, x[(2 + s) & 3]);
      v = _mm512_mask_blend_epi32(0xF000, v, x[(3 + s) & 3]);
      _mm512_store_si512(diag + 256 * c + 64 * s, v);
    }
  }
}

// The per-block 4 x 4 tile with a cheaper per-block reduction. Activation plane s of the tile (s = 0..3) is
// "diagonal": its 128-bit quarter q comes from activation row (q + s) % 4, so accumulator (r, s) holds in
// quarter q the partial sums of (row r, activation (q + s) % 4). Rotating accumulator (r, s) by s quarters and
// adding the four gives one vector per row whose quarter t holds 4 partial sums of (r, t); a two-level
// transpose then leaves (r, t) in lane 4t + r: 18 shuffles per block instead of reduce16's 30 (+10-15%).
// (Building the diagonal planes with masked loads inside the tile instead was 30% slower.)
static inline void tile4x4_block(const TernaryGemm& g, int64_t m, int rows, int64_t n, int nrows,
                                 const int8_t* diag /* (Kp / 64, 4, 64) */, const int32_t* block_sums,
                                 const float* block_scales, const uint8_t* pf, int64_t pf_lines) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t row_bytes = g.Kp / 4;
  const uint8_t* wr[4];
  for (int i = 0; i < 4; i++) wr[i] = g.w + (m + (i < rows ? i : rows - 1)) * row_bytes;
  const __m512i mask = _mm512_set1_epi8(3);
  __m512 accf = _mm512_setzero_ps();
  for (int64_t b = 0; b < nblocks; b++) {
    if (pf != nullptr) {
      for (int64_t i = 0; i < pf_lines; i++) {
        _mm_prefetch(reinterpret_cast<const char*>(pf + (b * pf_lines + i) * 64), _MM_HINT_T1);
      }
    }
    __m512i acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_si512();
    for (int p = 0; p < 4; p++) {
      const int8_t* d = diag + (b * 4 + p) * 256;
      __m512i a[4];
      for (int s = 0; s < 4; s++) a[s] = _mm512_load_si512(d + 64 * s);
      for (int r = 0; r < 4; r++) {
        const __m512i w = _mm512_loadu_si512(wr[r] + b * kPackedBlockBytes);
        const __m512i plane = _mm512_and_si512(p == 0 ? w : _mm512_srli_epi16(w, 2 * p), mask);
        for (int s = 0; s < 4; s++) acc[r * 4 + s] = _mm512_dpbusd_epi32(acc[r * 4 + s], plane, a[s]);
      }
    }
    __m512i v[4];
    for (int r = 0; r < 4; r++) {  // quarter t of v[r] <- quarter (t - s) % 4 of acc (r, s)
      const __m512i* a = acc + r * 4;
    v[r] = _mm512_add_epi32(_mm512_add_epi32(a[0], _mm512_shuffle_i32x4(a[1], a[1], _MM_SHUFFLE(2, 1, 0, 3))),
                            _mm512_add_epi32(_mm512_shuffle_i32x4(a[2], a[2], _MM_SHUFFLE(1, 0, 3, 2)),
                                             _mm512_shuffle_i32x4(a[3], a[3], _MM_SHUFFLE(0, 3, 2, 1))));
    }
    const __m512i x01 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
    const __m512i x23 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
    const __m512i sum = _mm512_add_epi32(_mm512_unpacklo_epi64(x01, x23), _mm512_unpackhi_epi64(x01, x23));
    const __m512i sums = _mm512_load_si512(block_sums + 16 * b);
    const __m512 as = _mm512_load_ps(block_scales + 16 * b);
    // ternary_block_step: acc + (float)isum_b * a_scale_b
    accf = _mm512_add_ps(accf, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(sum, sums)), as));
  }
  alignas(64) float out[16];
  _mm512_store_ps(out, accf);
  for (int r = 0; r < rows; r++) {
    for (int t = 0; t < nrows; t++) {
      g.y[(n + t) * g.M + m + r] = ternary_out_per_block(out[t * 4 + r], g.w_scales[m + r]);
    }
  }
}

// One n-tile over the rows [mc, mc_end) of a chunk; its tile call c prefetches the lines
// [pf + c * pf_lines * nblocks * 64, ...) of the weights ahead, clipped at pf_end. Returns the next slice.
template <int MR, int NR, bool kPerBlock>
static inline const uint8_t* pass(const TernaryGemm& g, int64_t mc, int64_t mc_end, int64_t n, int nrows,
                                  const uint8_t* pf, const uint8_t* pf_end, int64_t pf_lines) {
  const int64_t slice = pf_lines * (g.Kp / kPackedBlockWeights) * 64;
  if (kPerBlock && MR == 4 && NR == 4 && g.Kp <= kDiagMaxCols) {
    alignas(64) int8_t diag[4 * kDiagMaxCols];  // (Kp / 64, 4, 64), 32 KiB of stack
    alignas(64) int32_t block_sums[kDiagMaxCols / 16];  // (Kp / 256, 16)
    alignas(64) float block_scales[kDiagMaxCols / 16];  // (Kp / 256, 16)
    build_diag(g, n, nrows, diag, block_sums, block_scales);
    for (int64_t m = mc; m < mc_end; m += MR, pf += slice) {
      tile4x4_block(g, m, static_cast<int>(mc_end - m < MR ? mc_end - m : MR), n, nrows, diag, block_sums,
                    block_scales, pf < pf_end ? pf : nullptr, pf_lines);
    }
    return pf;
  }
  for (int64_t m = mc; m < mc_end; m += MR, pf += slice) {
    const int rows = static_cast<int>(mc_end - m < MR ? mc_end - m : MR);
    tile<MR, NR, kPerBlock>(g, m, rows, n, nrows, pf < pf_end ? pf : nullptr, pf_lines);
  }
  return pf;
}

// Rows [m0, m1) for every activation row, a chunk of kChunkRows weight rows at a time, so the chunk
// (kChunkRows * Kp / 4 bytes) stays in L1/L2 while every activation tile passes over it: 4 x 4 tiles while >= 4
// activation rows remain, then one tile shape for the 1-3 left. Every tile call prefetches an equal slice of
// the weights ahead, which spreads the DRAM traffic evenly over the chunk's compute. At most 16 accumulators per
// tile: with 24 (6 x 4, 8 x 3), GCC 12 shuffles them between registers and loses ~20%.
template <bool kPerBlock>
static inline void sweep(const TernaryGemm& g, int64_t m0, int64_t m1) {
  constexpr int64_t kChunkRows = 64;
  // The chunk's calls prefetch the 64 rows from 32 past the chunk's start: half a chunk of lead measured
  // faster than a whole one (DRAM-resident weights, N = 2..8, 2 threads).
  constexpr int64_t kPrefetchLeadRows = 32;
  const int64_t row_bytes = g.Kp / 4;
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t n4 = g.N / 4 * 4;
  const int tail = static_cast<int>(g.N - n4);
  const int64_t tail_rows = tail == 1 ? 16 : tail == 2 ? 8 : 5;  // MR of the tail tile
  for (int64_t mc = m0; mc < m1; mc += kChunkRows) {
    const int64_t mc_end = mc + kChunkRows < m1 ? mc + kChunkRows : m1;
    const int64_t rows = mc_end - mc;
    const int64_t calls = n4 / 4 * ((rows + 3) / 4) + (tail > 0 ? (rows + tail_rows - 1) / tail_rows : 0);
    const int64_t pf_row = mc + kPrefetchLeadRows < m1 ? mc + kPrefetchLeadRows : m1;
    const uint8_t* pf = g.w + pf_row * row_bytes;
    const uint8_t* pf_end = g.w + (pf_row + kChunkRows < m1 ? pf_row + kChunkRows : m1) * row_bytes;
    const int64_t lines = (pf_end - pf) / 64;
    const int64_t pf_lines = (lines + calls * nblocks - 1) / (calls * nblocks);
    for (int64_t n = 0; n < n4; n += 4) pf = pass<4, 4, kPerBlock>(g, mc, mc_end, n, 4, pf, pf_end, pf_lines);
    if (tail == 1) pass<16, 1, kPerBlock>(g, mc, mc_end, n4, 1, pf, pf_end, pf_lines);
    if (tail == 2) pass<8, 2, kPerBlock>(g, mc, mc_end, n4, 2, pf, pf_end, pf_lines);
    if (tail == 3) pass<5, 3, kPerBlock>(g, mc, mc_end, n4, 3, pf, pf_end, pf_lines);
  }
}

}  // namespace
}  // namespace avx512

void ternary_gemm_avx512(const TernaryGemm& g, int64_t m0, int64_t m1) {
  if (g.N == 1) {
    for (int64_t m = m0; m < m1; m += 16) avx512::gemv16(g, m, static_cast<int>(m1 - m < 16 ? m1 - m : 16), 0);
    return;
  }
  if (g.per_block) {
    avx512::sweep<true>(g, m0, m1);
  } else {
    avx512::sweep<false>(g, m0, m1);
  }
}

}  // namespace ternion
