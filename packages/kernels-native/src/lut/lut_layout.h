// LUT-index layout of ternary weights and the per-call activation tables of the lookup-table GEMM
// (T-MAC: Wei et al., "T-MAC: CPU Renaissance via Table Lookup for Low-Bit LLM Deployment on Edge", EuroSys 2025;
// the 3-weight groups follow bitnet.cpp's TL2: Wang et al., "Bitnet.cpp: Efficient Edge Inference for Ternary
// LLMs", 2025). Mirrored by LUT_* in lib/lut.ts.
//
// Weights. Each 256-weight block (the activation quantization block of ternary_matmul.h) is cut into 86 groups
// of 3 consecutive weights (the last group holds weight 255 and two zero weights) plus one all-zero group; a
// group's 3 codes c = w + 1 form the pattern index f = c0 + 3 c1 + 9 c2 in [0, 27). Three indices share a
// uint16 word (bits 0-4, 5-9, 10-14; bit 15 zero), so a block is 29 words = 58 bytes per row: 1.81 bits per
// weight against 2 for the packed MAD layout.
// Tiles (runtime data, chosen per shape): R = rowsPerTile in {16, 32, 64, 128} rows, and K in chunks of
// B = blocksPerChunk blocks (the last chunk may be shorter). Each chunk holds all tiles, so a kernel walking
// chunk by chunk streams the weights contiguously while one chunk's tables (B * 5.4 KiB) stay in L1.
//   data: (chunks, tiles, blocks of the chunk, 29, R) uint16, tiles = ceil(M / R), chunks = ceil(nblocks / B)
//   word w of block b = c * B + bc of row m = t * R + r:
//     data[c * B * tiles * 29 * R + ((t * nb_c + bc) * 29 + w) * R + r],  nb_c = min(B, nblocks - c * B)
//   rows past M hold the zero pattern (13) in every field.
// Rows of a tile are the SIMD lanes: one vpermw looks up 32 rows' partial sums at once.
//
// Tables. For activation row n and group j of block b the kernels need T[f] = sum_i (c_i - 1) * q[k_i] for the
// 27 patterns, exact in int16 (|T| <= 384). A whole block's sum S can reach +-256 * 128 = +-32768, one past
// int16, so the kernels accumulate fields 0 and 1 of the words (58 groups, 174 weights, |sum| <= 22272) and
// field 2 (29 groups) in separate int16 lanes and add the two in int32 once per block: exact for every int8 q.
// Each group's table has a 64-byte slot; its format is private to the ISA pair (builder + kernel): generic and
// AVX-512 hold 32 int16 (entries 27-31 zero), AVX2 holds the 14 sign-folded entries (pattern 26 - f is the
// negation of f) as 16 low bytes then 16 high bytes.
//   tables: (chunk rows, nblocks, 87, 64 bytes), built per call into caller-provided scratch.
#pragma once

#include <cstdint>

namespace ternion {

constexpr int kLutGroupWeights = 3;
constexpr int kLutPatterns = 27;
constexpr int kLutZeroPattern = 13;  // codes (1, 1, 1)
constexpr int kLutGroupsPerBlock = 87;
constexpr int kLutWordsPerBlock = 29;
constexpr int kLutTableBytes = 64;
constexpr int64_t kLutBlockTableBytes = kLutGroupsPerBlock * kLutTableBytes;  // 5568
constexpr uint16_t kLutZeroWord = kLutZeroPattern | kLutZeroPattern << 5 | kLutZeroPattern << 10;
static_assert(kLutGroupsPerBlock == 3 * kLutWordsPerBlock, "three groups per word");
static_assert(kLutGroupWeights * (kLutGroupsPerBlock - 1) >= 256, "86 groups cover a block");

// Weight (c_i - 1) of pattern e at slot i, 0 for e >= 27: table entry T[e] = sum_i v[i][e] * a_i.
struct LutPatternWeights {
  int16_t v[3][32];
};
constexpr LutPatternWeights make_lut_pattern_weights() {
  LutPatternWeights p{};
  for (int f = 0; f < kLutPatterns; f++) {
    p.v[0][f] = static_cast<int16_t>(f % 3 - 1);
    p.v[1][f] = static_cast<int16_t>(f / 3 % 3 - 1);
    p.v[2][f] = static_cast<int16_t>(f / 9 - 1);
  }
  return p;
}
alignas(64) constexpr LutPatternWeights kLutPatternWeights = make_lut_pattern_weights();

struct LutGemm {
  const uint16_t* w;       // (chunks, tiles, blocks of the chunk, 29, R) pattern words
  const float* w_scales;   // (M)
  const int8_t* q;         // (N, Kp) quantized activations, zero padded
  const float* a_scales;   // (N, groups)
  float* y;                // (N, M)
  int64_t M, Kp, N, R;
  int64_t B;               // blocks per chunk, 1 <= B <= Kp / 256
  bool per_block;
};

// The 29 * R words of block b of tile t.
static inline int64_t lut_block_offset(int64_t M, int64_t Kp, int64_t R, int64_t B, int64_t t, int64_t b) {
  const int64_t nblocks = Kp / 256, tiles = (M + R - 1) / R;
  const int64_t c = b / B, bc = b % B;
  const int64_t nb_c = nblocks - c * B < B ? nblocks - c * B : B;
  return (c * B * tiles + t * nb_c + bc) * kLutWordsPerBlock * R;
}
static inline const uint16_t* lut_block_words(const LutGemm& g, int64_t t, int64_t b) {
  return g.w + lut_block_offset(g.M, g.Kp, g.R, g.B, t, b);
}

// Activation of slot i (0-2) of group j of block b in activation row q (Kp): zero past the block's 256 weights.
static inline int lut_activation(const int8_t* q_block /* (256) */, int j, int i) {
  const int s = kLutGroupWeights * j + i;
  return s < 256 ? q_block[s] : 0;
}

// Weight of pattern f at slot i (0-2): the code digit minus one.
static inline int lut_pattern_weight(int f, int i) {
  const int c = i == 0 ? f % 3 : i == 1 ? f / 3 % 3 : f / 9;
  return c - 1;
}

// Tables of activation row n, block b: 87 slots of 64 bytes.
void lut_tables_generic(const LutGemm& g, int64_t n, int64_t b, uint8_t* slots /* (87, 64) */);
void lut_tables_avx2(const LutGemm& g, int64_t n, int64_t b, uint8_t* slots);
void lut_tables_avx512(const LutGemm& g, int64_t n, int64_t b, uint8_t* slots);
// Rows of tiles [t0, t1) x activation rows [n0, n0 + na), whose tables start at `tables`, `table_stride` bytes
// (nblocks * 5568) apart.
void lut_tiles_generic(const LutGemm& g, const uint8_t* tables, int64_t table_stride, int64_t n0, int64_t na,
                       int64_t t0, int64_t t1);
void lut_tiles_avx2(const LutGemm& g, const uint8_t* tables, int64_t table_stride, int64_t n0, int64_t na,
                    int64_t t0, int64_t t1);
void lut_tiles_avx512(const LutGemm& g, const uint8_t* tables, int64_t table_stride, int64_t n0, int64_t na,
                      int64_t t0, int64_t t1);

}  // namespace ternion
