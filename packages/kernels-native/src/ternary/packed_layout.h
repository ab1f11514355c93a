// The runtime layout of ternary weights that the GEMM kernels read (mirrored by PACKED_TERNARY_* in
// lib/ternary.ts). Chosen so AVX-512 unpacks a 256-weight block into four planes of 64 codes with one shift and
// one AND each, and feeds `vpdpbusd` (u8 codes x s8 activations) against four contiguous 64-byte activation
// loads; AVX2 does the same with two 32-byte halves and `vpmaddubsw`.
//
//   data: (rows, colsPadded / 4) bytes, colsPadded = ceil(cols / 256) * 256
//   row m, block b (weights k in [256b, 256b + 256)) is the 64 bytes at m * colsPadded/4 + 64b;
//   byte j of a block holds the codes (w + 1, so 0/1/2 = -1/0/+1) of
//     k = 256b + j       in bits 0-1
//     k = 256b + j + 64  in bits 2-3
//     k = 256b + j + 128 in bits 4-5
//     k = 256b + j + 192 in bits 6-7
//   padding weights (k >= cols) have code 1 (weight 0).
//   rowScales: (rows) f32, one dequantisation scale per row: W[m][k] = (code - 1) * rowScales[m].
#pragma once

#include <cstdint>

namespace ternion {

constexpr int64_t kPackedBlockWeights = 256;
constexpr int64_t kPackedBlockBytes = 64;
constexpr uint8_t kPackedZeroByte = 0x55;  // four codes 1: a block of zero weights
// Largest K: |sum_k code * q| <= 2 * 128 * 2^22 = 2^30 stays exact in every int32 accumulator.
constexpr int64_t kMaxTernaryCols = int64_t{1} << 22;

static inline int64_t packed_cols(int64_t cols) {
  return (cols + kPackedBlockWeights - 1) / kPackedBlockWeights * kPackedBlockWeights;
}

// Packs 256 codes (weight order) into one 64-byte block.
static inline void pack_block(const uint8_t* codes /* (256) */, uint8_t* out /* (64) */) {
  for (int j = 0; j < 64; j++) {
    out[j] = static_cast<uint8_t>(codes[j] | codes[j + 64] << 2 | codes[j + 128] << 4 | codes[j + 192] << 6);
  }
}

}  // namespace ternion
