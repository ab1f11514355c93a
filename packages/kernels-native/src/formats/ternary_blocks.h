// On-disk ternary weight formats, as GGUF (llama.cpp) and bitnet.cpp write them. Codes are w + 1: 0/1/2 mean
// -1/0/+1. Everything here is `static inline` so ISA translation units may include it.
//
// Sources: llama.cpp ggml/src/ggml-common.h (block_tq1_0, block_tq2_0), ggml/src/ggml-quants.c
// (quantize_row_tq{1,2}_0_ref, dequantize_row_tq{1,2}_0); microsoft/BitNet src/ggml-bitnet-mad.cpp
// (quantize_i2_s, x86 QK_I2_S = 128).
#pragma once

#include <cstdint>
#include <cstring>

namespace ternion {

// Numbering shared with lib/formats.ts (TERNARY_FORMAT_IDS).
enum class TernaryFormat : int { kTQ1_0 = 0, kTQ2_0 = 1, kI2_S = 2 };

constexpr int64_t kTqBlockWeights = 256;
constexpr int64_t kTq1BlockBytes = 54;
constexpr int64_t kTq2BlockBytes = 66;

// TQ2_0: 256 weights in 66 bytes: two 128-weight chunks of 32 bytes, then the fp16 scale `d`.
// Weight j of chunk c (j in [0, 128)) is in qs[c*32 + j%32] at bit shift 2*(j/32).
struct BlockTQ2_0 {
  uint8_t qs[64];
  uint16_t d;  // fp16
};
static_assert(sizeof(BlockTQ2_0) == 66, "TQ2_0 block is 66 bytes");

// TQ1_0: 256 weights in 54 bytes, base-3 "fixed point" packing: a byte holding trits t0..t4 (t0 most
// significant) stores ceil((t0*81 + t1*27 + t2*9 + t3*3 + t4) * 256 / 243), so trit n is recovered as
// ((uint8_t)(byte * 3^n) * 3) >> 8 (multiply by 3^n drops the leading trits off the top of the byte).
//   qs[0..32):  weights [0, 160): trit n of byte m is weight m + 32n
//   qs[32..48): weights [160, 240): trit n of byte 32+m is weight 160 + m + 16n
//   qh[0..4):   weights [240, 256): trit n (n < 4) of byte m is weight 240 + m + 4n; trit 4 is 0
struct BlockTQ1_0 {
  uint8_t qs[48];
  uint8_t qh[4];
  uint16_t d;  // fp16
};
static_assert(sizeof(BlockTQ1_0) == 54, "TQ1_0 block is 54 bytes");

// I2_S (bitnet.cpp, x86): the whole tensor is flattened into 128-weight blocks of 32 bytes; byte j of a block
// holds weight j in bits 7-6, j+32 in bits 5-4, j+64 in bits 3-2, j+96 in bits 1-0. After the n/4 code bytes
// comes ONE little-endian f32 scale for the whole tensor, then padding up to n/4 + 32 bytes (bitnet.cpp does
// not zero it).
constexpr int64_t kI2sBlockWeights = 128;
constexpr int64_t kI2sBlockBytes = 32;
constexpr int64_t kI2sTrailerBytes = 32;

// Bytes of a tensor of n weights (n a valid multiple of the block size).
static inline int64_t ternary_tensor_bytes(TernaryFormat f, int64_t n) {
  switch (f) {
    case TernaryFormat::kTQ1_0:
      return n / kTqBlockWeights * kTq1BlockBytes;
    case TernaryFormat::kTQ2_0:
      return n / kTqBlockWeights * kTq2BlockBytes;
    default:
      return n / 4 + kI2sTrailerBytes;
  }
}
static inline int64_t ternary_block_weights(TernaryFormat f) {
  return f == TernaryFormat::kI2_S ? kI2sBlockWeights : kTqBlockWeights;
}

// Code of weight i (0..127) of an I2_S block.
static inline uint8_t i2s_code(const uint8_t* block, int i) {
  return static_cast<uint8_t>((block[i & 31] >> (6 - 2 * (i >> 5))) & 3);
}

// Code of weight j (0..255) of a TQ2_0 block.
static inline uint8_t tq2_code(const BlockTQ2_0& b, int j) {
  const int c = j >> 7, r = j & 127;
  return static_cast<uint8_t>((b.qs[c * 32 + (r & 31)] >> (2 * (r >> 5))) & 3);
}

// Trit n (0 = most significant) of a TQ1_0 byte.
static inline uint8_t tq1_trit(uint8_t byte, int n) {
  static const uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t q = static_cast<uint8_t>(byte * kPow3[n]);
  return static_cast<uint8_t>((static_cast<uint16_t>(q) * 3) >> 8);
}

// All 256 codes of a TQ1_0 block, in weight order (llama.cpp dequantize_row_tq1_0 order).
static inline void tq1_codes(const BlockTQ1_0& b, uint8_t* codes /* (256) */) {
  for (int n = 0; n < 5; n++)
    for (int m = 0; m < 32; m++) codes[m + 32 * n] = tq1_trit(b.qs[m], n);
  for (int n = 0; n < 5; n++)
    for (int m = 0; m < 16; m++) codes[160 + m + 16 * n] = tq1_trit(b.qs[32 + m], n);
  for (int n = 0; n < 4; n++)
    for (int m = 0; m < 4; m++) codes[240 + m + 4 * n] = tq1_trit(b.qh[m], n);
}

// Inverse of tq1_codes (llama.cpp quantize_row_tq1_0_ref packing, given codes instead of floats).
static inline void tq1_pack(const uint8_t* codes /* (256) */, BlockTQ1_0* b) {
  const auto ceil_div_243 = [](unsigned q) { return static_cast<uint8_t>((q * 256 + 242) / 243); };
  for (int m = 0; m < 32; m++) {
    unsigned q = 0;
    for (int n = 0; n < 5; n++) q = q * 3 + codes[m + 32 * n];
    b->qs[m] = ceil_div_243(q);
  }
  for (int m = 0; m < 16; m++) {
    unsigned q = 0;
    for (int n = 0; n < 5; n++) q = q * 3 + codes[160 + m + 16 * n];
    b->qs[32 + m] = ceil_div_243(q);
  }
  for (int m = 0; m < 4; m++) {
    unsigned q = 0;
    for (int n = 0; n < 4; n++) q = q * 3 + codes[240 + m + 4 * n];
    b->qh[m] = ceil_div_243(q * 3);  // the fifth (least significant) trit is 0
  }
}

// IEEE half <-> float, round to nearest even (what F16C and ggml's scalar fallback do).
static inline float fp16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      e++;
      man <<= 1;
    } while ((man & 0x400) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((man & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static inline uint16_t f32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00 | ((abs >> 13) & 0x3ff));  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    if (abs < 0x33000000u) return sign;  // < 2^-25 rounds to 0
    const uint32_t man = (abs & 0x7fffff) | 0x800000;
    const int shift = 126 - static_cast<int>(abs >> 23);  // 14..24
    uint32_t q = man >> shift;
    const uint32_t rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return static_cast<uint16_t>(sign | h);
}

}  // namespace ternion
