// IEEE 754 binary16 <-> binary32 conversion in portable C++, bit-exact with the x86 F16C instructions
// (vcvtph2ps / vcvtps2ph with round-to-nearest-even), so a scalar reference and an F16C kernel see the same
// weights. Header-only and `static inline` so every translation unit (generic, AVX2, AVX-512) gets its own
// copy and no ISA-specific code can leak across TUs through the linker.
//
// Method: Maratyszcza's FP16 library (github.com/Maratyszcza/FP16), rewritten: subnormal halves are scaled
// exactly through float arithmetic; float -> half rounding of the normal range is an integer add of
// 0x0fff plus the kept LSB, and the subnormal range lets the FPU round by adding 0.5.
// Both rely on the default rounding mode (round-to-nearest-even) and on strict float semantics (no
// -ffast-math), which binding.gyp guarantees.
#pragma once

#include <cstdint>
#include <cstring>

namespace ternion {

static inline uint32_t fp16_float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

static inline float fp16_bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Exact (every half is representable as a float). NaNs keep sign and payload; like vcvtph2ps, a signalling
// NaN comes back quiet (the quiet bit 22 is set).
static inline float fp16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) {
    const uint32_t quiet = mantissa != 0 ? 0x00400000u : 0u;
    return fp16_bits_float(sign | 0x7f800000u | quiet | (mantissa << 13));
  }
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float (mantissa < 2^10).
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return fp16_bits_float(sign | fp16_float_bits(magnitude));
  }
  // Normal: rebias the exponent from 15 to 127.
  return fp16_bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// Round-to-nearest-even; overflow gives +-inf; NaNs stay NaN, quiet, with the top 9 payload bits kept.
static inline uint16_t f32_to_fp16(float f) {
  const uint32_t x = fp16_float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) {
    if (ax == 0x7f800000u) return sign | 0x7c00u;
    return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  }
  if (ax >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds past 65504 (max half) to infinity
  if (ax >= 0x38800000u) {
    // Normal half (>= 2^-14): drop 13 mantissa bits rounding to nearest even, then rebias 127 -> 15.
    const uint32_t kept_lsb = (ax >> 13) & 1u;
    const uint32_t rounded = ax + 0x0fffu + kept_lsb;
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
  }
  // Subnormal half or zero: adding 0.5 leaves a float whose ulp is 2^-24, so the FPU rounds |f| to a whole
  // number of half-subnormal steps (nearest even); the low mantissa bits are that count (0x400 = min normal).
  const float rounded = fp16_bits_float(ax) + 0.5f;
  return static_cast<uint16_t>(sign | (fp16_float_bits(rounded) - 0x3f000000u));
}

}  // namespace ternion
