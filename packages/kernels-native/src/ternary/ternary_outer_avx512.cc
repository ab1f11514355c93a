// AVX-512 VNNI ternary GEMM for batches (N >= kOuterMinN activation rows), as an outer product: each int32
// lane of an accumulator is one weight row, so no horizontal sums are needed at all.
//
// The packed layout (packed_layout.h) stores row m's block b as 64 bytes whose dword v holds the codes of
// k = 256b + 4v + e + 64p (byte e, bits 2p). Transposing the 16 x 16 dwords of 16 rows' blocks gives 16
// vectors, vector v holding dword v of every row; its code plane p (one shift, one AND) is then "16 rows x the
// 4 consecutive k = 256b + 64p + 4v .. +3", and one `vpdpbusd` against those 4 activations broadcast to every
// lane does 64 multiply-adds for 16 rows at once. The activations are interleaved once per call (16 tokens'
// dwords of each k-quad side by side) so every broadcast is a 4-byte load at a constant offset.
//   per 16 rows x 256 k: 16 loads + 64 shuffles (transpose, once per row group and call), 16 x (1 load +
//   3 shifts + 4 ANDs), then 4 x T vpdpbusd per vector: ~11% extra ALU work at T = 16, against ~50% for the
//   register tiles of ternary_matmul_avx512.cc (unpack shared by 4 tokens, a 16-way reduction per block).
// Per-block-256 activations convert each block's exact int32 sums to float lane-wise (4 ops per token and
// block), per-token ones once at the end; the float formulas of ternary_matmul.h are applied lane by lane in
// the same order, so results equal the scalar reference bit for bit.
// The outer-product formulation of low-bit GEMM: T-MAC (Wei et al., "T-MAC: CPU Renaissance via Table Lookup
// for Low-Bit LLM Deployment on Edge", 2024) and bitnet.cpp's TL kernels lay weights out row-interleaved for
// the same reason; here the interleaving is done in registers so the packed layout stays one for all kernels.
#include <immintrin.h>

#include <cstring>

// GCC 12's own AVX-512 headers trip -Wmaybe-uninitialized on _mm512_undefined_* inside the intrinsics.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "ternary/packed_layout.h"
#include "ternary/ternary_matmul.h"

namespace ternion {
namespace avx512 {
namespace {

// r[i] <- the i-th dword of every input vector: a 16 x 16 transpose of 32-bit elements (4 shuffle stages).
static inline void transpose16(__m512i* r) {
  __m512i t[16], s[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  // s[4i + c], 128-bit lane L: column 4L + c of rows 4i .. 4i + 3
  for (int i = 0; i < 4; i++) {
    s[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    s[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    s[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    s[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // column 4L + c = lane L of s[c], s[4 + c], s[8 + c], s[12 + c]: a 4 x 4 transpose of 128-bit lanes
  for (int c = 0; c < 4; c++) {
    const __m512i u0 = _mm512_shuffle_i32x4(s[c], s[4 + c], 0x44), u1 = _mm512_shuffle_i32x4(s[c], s[4 + c], 0xEE);
    const __m512i u2 = _mm512_shuffle_i32x4(s[8 + c], s[12 + c], 0x44);
    const __m512i u3 = _mm512_shuffle_i32x4(s[8 + c], s[12 + c], 0xEE);
    r[c] = _mm512_shuffle_i32x4(u0, u2, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(u0, u2, 0xDD);
    r[8 + c] = _mm512_shuffle_i32x4(u1, u3, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(u1, u3, 0xDD);
  }
}

// acc + Σ4 (u8 plane · s8 activation dword broadcast to all lanes). GCC 12 wraps the intrinsic in register
// copies (see matmul_avx512.cc); the asm also folds the broadcast into the instruction ({1to16}).
static inline __m512i dpbusd_bcast(__m512i acc, __m512i plane, const int8_t* a4) {
#if defined(__GNUC__) && !defined(__clang__)
  __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(plane), "m"(*reinterpret_cast<const int32_t*>(a4)));
  return acc;
#else
  int32_t v;
  std::memcpy(&v, a4, 4);
  return _mm512_dpbusd_epi32(acc, plane, _mm512_set1_epi32(v));
#endif
}

// T tokens [n0 + t0, n0 + t0 + T) of the token tile starting at n0 x the 16 rows [m, m + rows) whose
// transposed blocks are in wt.
// `pf` (null = none): one line per (block, vector) of the next row group to prefetch into L2.
template <int T, bool kPerBlock>
static inline void outer_tile(const TernaryGemm& g, const uint8_t* wt /* (Kp / 256, 16, 64) */,
                              const int8_t* act /* (Kp / 4, 16, 4) of this token tile */, int64_t m, int rows,
                              int64_t n0 /* first token of the tile */, int t0, const uint8_t* const* pf) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const __m512i mask = _mm512_set1_epi8(3);
  __m512i acc[T];
  alignas(64) float accf[T][16];     // per-block: Σ_b (float)isum_b * a_scale_b per (token, row)
  alignas(64) int32_t total[T][16];  // per-token: Σ_b isum_b per (token, row)
#pragma GCC unroll 16
  for (int t = 0; t < T; t++) {
    acc[t] = _mm512_setzero_si512();
    if (kPerBlock) _mm512_store_ps(accf[t], _mm512_setzero_ps());
    else _mm512_store_si512(total[t], _mm512_setzero_si512());
  }
  for (int64_t b = 0; b < nblocks; b++) {
    for (int v = 0; v < 16; v++) {
      const __m512i w = _mm512_load_si512(wt + (b * 16 + v) * 64);  // 16 rows x 4 k-quads (one per plane)
      if (pf != nullptr) _mm_prefetch(reinterpret_cast<const char*>(pf[v] + b * kPackedBlockBytes), _MM_HINT_T1);
      // Fully unrolled, so the T accumulators live in registers (GCC 12 kept them on the stack otherwise).
#pragma GCC unroll 4
      for (int p = 0; p < 4; p++) {
        const __m512i plane = _mm512_and_si512(p == 0 ? w : _mm512_srli_epi16(w, 2 * p), mask);
        const int8_t* a = act + (b * 64 + 16 * p + v) * 64 + 4 * t0;  // the k-quad 64b + 16p + v
#pragma GCC unroll 16
        for (int t = 0; t < T; t++) acc[t] = dpbusd_bcast(acc[t], plane, a + 4 * t);
      }
    }
    if (!kPerBlock) {
      // Folding each block into a total in memory keeps the accumulators' live range to one block: with them
      // live over all of K, GCC 12 stored every accumulator to the stack on each step (measured ~15% slower).
#pragma GCC unroll 16
      for (int t = 0; t < T; t++) {
        _mm512_store_si512(total[t], _mm512_add_epi32(_mm512_load_si512(total[t]), acc[t]));
        acc[t] = _mm512_setzero_si512();
      }
    } else {
#pragma GCC unroll 16
      for (int t = 0; t < T; t++) {
        const int64_t gi = (n0 + t0 + t) * nblocks + b;
        const __m512i isum = _mm512_sub_epi32(acc[t], _mm512_set1_epi32(g.a_sums[gi]));
        // ternary_block_step: acc + (float)isum_b * a_scale_b
        const __m512 step = _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(g.a_scales[gi]));
        _mm512_store_ps(accf[t], _mm512_add_ps(_mm512_load_ps(accf[t]), step));
        acc[t] = _mm512_setzero_si512();
      }
    }
  }
  const __mmask16 store = static_cast<__mmask16>((1u << rows) - 1);
  const __m512 ws = _mm512_maskz_loadu_ps(store, g.w_scales + m);
  for (int t = 0; t < T; t++) {
    const int64_t n = n0 + t0 + t;
    __m512 y;
    if (kPerBlock) {
      y = _mm512_mul_ps(_mm512_load_ps(accf[t]), ws);  // ternary_out_per_block
    } else {
      // ternary_out_per_token: (float)isum * (a_scale * w_scale)
      const __m512i isum = _mm512_sub_epi32(_mm512_load_si512(total[t]), _mm512_set1_epi32(g.a_sums[n]));
      y = _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(_mm512_set1_ps(g.a_scales[n]), ws));
    }
    _mm512_mask_storeu_ps(g.y + n * g.M + m, store, y);
  }
}

// All tokens of token tile `tile` (16 or fewer) over one row group: a 16-token tile, or 8/4/2/1 pieces of a
// partial last tile.
template <bool kPerBlock>
static inline void outer_tokens(const TernaryGemm& g, const uint8_t* wt, int64_t m, int rows, int64_t tile,
                                const uint8_t* const* pf) {
  const int8_t* act = g.q_tiles + tile * (g.Kp / 4) * 64;
  const int64_t n0 = tile * 16;
  const int count = static_cast<int>(g.N - n0 < 16 ? g.N - n0 : 16);
  int t0 = 0;
  if (count == 16) return outer_tile<16, kPerBlock>(g, wt, act, m, rows, n0, 0, pf);
  if (count - t0 >= 8) outer_tile<8, kPerBlock>(g, wt, act, m, rows, n0, t0, pf), t0 += 8, pf = nullptr;
  if (count - t0 >= 4) outer_tile<4, kPerBlock>(g, wt, act, m, rows, n0, t0, pf), t0 += 4, pf = nullptr;
  if (count - t0 >= 2) outer_tile<2, kPerBlock>(g, wt, act, m, rows, n0, t0, pf), t0 += 2, pf = nullptr;
  if (count - t0 >= 1) outer_tile<1, kPerBlock>(g, wt, act, m, rows, n0, t0, pf);
}

template <bool kPerBlock>
static inline void outer_rows(const TernaryGemm& g, int64_t m0, int64_t m1) {
  const int64_t row_bytes = g.Kp / 4;
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t tiles = (g.N + 15) / 16;
  alignas(64) uint8_t wt[kOuterMaxCols * 4];  // (Kp / 256, 16, 64) the row group's transposed blocks, 32 KiB
  // Row groups are prefetched into L2 two ahead (the first two of the range up front): measured against one
  // ahead, N = 16 calls on DRAM-resident weights ran 1.00-1.04x faster (K = 1536 gains, K = 4096, whose groups
  // compute longer, does not: one group's compute, ~2 us at K = 1536, is short against DRAM latency under load).
  constexpr int64_t kAhead = 2;
  for (const uint8_t* p = g.w + m0 * row_bytes; p < g.w + (m0 + 16 * kAhead < m1 ? m0 + 16 * kAhead : m1) * row_bytes;
       p += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T1);
  }
  for (int64_t m = m0; m < m1; m += 16) {
    const int rows = static_cast<int>(m1 - m < 16 ? m1 - m : 16);
    const uint8_t* wr[16];
    for (int r = 0; r < 16; r++) wr[r] = g.w + (m + (r < rows ? r : rows - 1)) * row_bytes;
    for (int64_t b = 0; b < nblocks; b++) {
      __m512i v[16];
      for (int r = 0; r < 16; r++) v[r] = _mm512_loadu_si512(wr[r] + b * kPackedBlockBytes);
      transpose16(v);
      for (int i = 0; i < 16; i++) _mm512_store_si512(wt + (b * 16 + i) * 64, v[i]);
    }
    // The first token tile prefetches the rows kAhead groups on (within this call's range) while it computes.
    const uint8_t* next[16];
    const int64_t mn = m + 16 * kAhead;
    const bool has_next = mn < m1;
    for (int r = 0; r < 16 && has_next; r++) next[r] = g.w + (mn + (mn + r < m1 ? r : 0)) * row_bytes;
    for (int64_t tile = 0; tile < tiles; tile++) {
      outer_tokens<kPerBlock>(g, wt, m, rows, tile, tile == 0 && has_next ? next : nullptr);
    }
  }
}

}  // namespace
}  // namespace avx512

void ternary_interleave_avx512(const TernaryGemm& g, int8_t* out, int64_t unit0, int64_t unit1) {
  const int64_t kq = g.Kp / 4;
  const int64_t chunks = g.Kp / 64;  // units per token tile
  for (int64_t u = unit0; u < unit1; u++) {
    const int64_t tile = u / chunks, c = u % chunks;
    const int64_t n0 = tile * 16;
    const int count = static_cast<int>(g.N - n0 < 16 ? g.N - n0 : 16);
    int8_t* dst = out + tile * kq * 64;  // (Kp / 4, 16, 4)
    __m512i v[16];
    for (int t = 0; t < 16; t++) {
      v[t] = t < count ? _mm512_loadu_si512(g.q + (n0 + t) * g.Kp + 64 * c) : _mm512_setzero_si512();
    }
    avx512::transpose16(v);
    for (int d = 0; d < 16; d++) _mm512_storeu_si512(dst + (16 * c + d) * 64, v[d]);
  }
}

void ternary_gemm_outer_avx512(const TernaryGemm& g, int64_t m0, int64_t m1) {
  if (g.per_block) {
    avx512::outer_rows<true>(g, m0, m1);
  } else {
    avx512::outer_rows<false>(g, m0, m1);
  }
}

}  // namespace ternion
