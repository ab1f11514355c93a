// packTernary: on-disk ternary tensor (TQ1_0 / TQ2_0 / I2_S) -> the runtime layout of packed_layout.h.
// Runs once per matrix at model load over billions of weights, so rows are split over the thread pool.
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"
#include "core/work.h"
#include "formats/ternary_blocks.h"
#include "ternary/packed_layout.h"

namespace ternion {
namespace {

constexpr int64_t kRowGrain = 16;

// Codes of TQ1_0 block `b`; returns the block's scale.
float tq1_block_codes(const uint8_t* bytes, int64_t b, uint8_t* codes /* (256) */) {
  BlockTQ1_0 blk;
  std::memcpy(&blk, bytes + b * kTq1BlockBytes, sizeof blk);
  tq1_codes(blk, codes);
  return fp16_to_f32(blk.d);
}

// Codes of flattened I2_S weights [i0, i0 + len). Rows need not start on a 128-weight block boundary.
void i2s_codes(const uint8_t* bytes, int64_t i0, int len, uint8_t* codes) {
  for (int t = 0; t < len; t++) {
    const int64_t i = i0 + t;
    codes[t] = static_cast<uint8_t>((bytes[(i >> 7) * kI2sBlockBytes + (i & 31)] >> (6 - 2 * ((i >> 5) & 3))) & 3);
  }
}

// Both TQ2_0 and the packed layout hold 2-bit codes; only their order differs, so a block converts byte-wise:
// packed byte j < 32 holds k = j, j+64 (qs[j] bits 0-1, 4-5) and k = j+128, j+192 (qs[32+j] bits 0-1, 4-5);
// packed byte 32+j takes bits 2-3 and 6-7 of the same two bytes.
static inline void tq2_to_packed(const uint8_t* qs /* (64) */, uint8_t* out /* (64) */) {
  for (int j = 0; j < 32; j++) {
    const unsigned a = qs[j], b = qs[32 + j];
    out[j] = static_cast<uint8_t>((a & 3) | ((a >> 4) & 3) << 2 | (b & 3) << 4 | ((b >> 4) & 3) << 6);
    out[32 + j] = static_cast<uint8_t>(((a >> 2) & 3) | ((a >> 6) & 3) << 2 | ((b >> 2) & 3) << 4 | ((b >> 6) & 3) << 6);
  }
}

// Two consecutive I2_S blocks (weights k and 128 + k) to one packed block: packed byte j < 32 holds k = j, j+64
// (A[j] bits 7-6, 3-2) and j+128, j+192 (B[j] bits 7-6, 3-2); packed byte 32+j takes bits 5-4 and 1-0.
static inline void i2s_to_packed(const uint8_t* a /* (32) */, const uint8_t* b /* (32) */, uint8_t* out /* (64) */) {
  for (int j = 0; j < 32; j++) {
    const unsigned x = a[j], y = b[j];
    out[j] = static_cast<uint8_t>(((x >> 6) & 3) | ((x >> 2) & 3) << 2 | ((y >> 6) & 3) << 4 | ((y >> 2) & 3) << 6);
    out[32 + j] = static_cast<uint8_t>(((x >> 4) & 3) | (x & 3) << 2 | ((y >> 4) & 3) << 4 | (y & 3) << 6);
  }
}

// Nonzero if any 2-bit field of the packed bytes is 3 (an invalid code).
static inline uint8_t packed_has_code3(const uint8_t* p, int n) {
  uint8_t bad = 0;
  for (int j = 0; j < n; j++) bad |= static_cast<uint8_t>(p[j] & (p[j] >> 1) & 0x55);
  return bad;
}

static inline bool packed_all_zero(const uint8_t* p) {
  uint8_t diff = 0;
  for (int j = 0; j < kPackedBlockBytes; j++) diff |= static_cast<uint8_t>(p[j] ^ kPackedZeroByte);
  return diff == 0;
}

// ternaryPack(format, bytes, rows, cols, data: Uint8Array (rows * colsPadded/4), rowScales: Float32Array
//             (rows), status: Int32Array (2)) -- status[0] = first row holding a code 3 (invalid), status[1] =
// first row whose non-zero TQ blocks have different scales; -1 when none.
Work PreparePack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto f = static_cast<TernaryFormat>(int_arg(info, 0, "format", 0, 2));
  const int64_t rows = int_arg(info, 2, "rows", 1, int64_t{1} << 31);
  const int64_t cols = int_arg(info, 3, "cols", 1, kMaxTernaryCols);
  const int64_t n = static_cast<int64_t>(checked_mul(env, rows, cols, "rows * cols"));
  if (f != TernaryFormat::kI2_S && cols % kTqBlockWeights != 0) {
    throw_range_error(env, "argument 3 (cols): " + std::to_string(cols) +
                               " is not a multiple of 256, the TQ1_0/TQ2_0 block size (GGUF rows hold whole blocks)");
  }
  if (f == TernaryFormat::kI2_S && n % kI2sBlockWeights != 0) {
    throw_range_error(env, "rows * cols = " + std::to_string(n) + " is not a multiple of 128, the I2_S block size");
  }
  const ByteView src = bytes_arg(info, 1, "bytes", static_cast<size_t>(ternary_tensor_bytes(f, n)));
  const int64_t kp = packed_cols(cols);
  uint8_t* data = u8_arg(info, 4, "data", checked_mul(env, rows, kp / 4, "rows * colsPadded / 4")).data;
  float* row_scales = f32_arg(info, 5, "rowScales", static_cast<size_t>(rows)).data;
  int32_t* status = i32_arg(info, 6, "status", 2).data;
  const uint8_t* bytes = src.data;
  return [f, rows, cols, kp, n, bytes, data, row_scales, status] {
    int64_t bad_code[256], bad_scale[256];
    std::fill(bad_code, bad_code + 256, INT64_MAX);
    std::fill(bad_scale, bad_scale + 256, INT64_MAX);
    float i2s_scale = 0.f;
    if (f == TernaryFormat::kI2_S) std::memcpy(&i2s_scale, bytes + n / 4, sizeof(float));
    ThreadPool::instance().parallel_for(rows, kRowGrain, [&](int64_t r0, int64_t r1, int w) {
      uint8_t codes[256];
      for (int64_t m = r0; m < r1; m++) {
        uint8_t* out = data + m * (kp / 4);
        uint8_t any3 = 0;
        bool have_scale = false, scales_differ = false;
        float scale = 0.f;
        for (int64_t b = 0; b < kp / kPackedBlockWeights; b++) {
          const int64_t k0 = b * kPackedBlockWeights;
          const int len = static_cast<int>(std::min<int64_t>(kPackedBlockWeights, cols - k0));
          uint8_t* ob = out + b * kPackedBlockBytes;
          const int64_t i0 = m * cols + k0;  // flattened index of the block's first weight
          if (f == TernaryFormat::kI2_S) {
            if (len == 256 && i0 % kI2sBlockWeights == 0) {
              const uint8_t* src = bytes + i0 / kI2sBlockWeights * kI2sBlockBytes;
              i2s_to_packed(src, src + kI2sBlockBytes, ob);
            } else {  // a row starting inside an I2_S block, or the ragged end of a row
              i2s_codes(bytes, i0, len, codes);
              for (int j = len; j < 256; j++) codes[j] = 1;
              pack_block(codes, ob);
            }
            any3 |= packed_has_code3(ob, kPackedBlockBytes);  // padding codes are 1, never 3
            continue;
          }
          float s;
          const int64_t src_block = i0 / kTqBlockWeights;
          if (f == TernaryFormat::kTQ2_0) {
            BlockTQ2_0 blk;
            std::memcpy(&blk, bytes + src_block * kTq2BlockBytes, sizeof blk);
            tq2_to_packed(blk.qs, ob);
            s = fp16_to_f32(blk.d);
          } else {
            s = tq1_block_codes(bytes, src_block, codes);
            pack_block(codes, ob);
          }
          any3 |= packed_has_code3(ob, kPackedBlockBytes);
          const bool all_zero = packed_all_zero(ob);
          if (!have_scale && (!all_zero || b == 0)) {
            scale = s;
            have_scale = !all_zero;
          } else if (!all_zero && !(s == scale)) {
            scales_differ = true;
          }
        }
        // A row of zero weights gets scale 0, so a non-finite block scale cannot turn 0 * scale into NaN.
        row_scales[m] = f == TernaryFormat::kI2_S ? i2s_scale : have_scale ? scale : 0.f;
        if (any3 && bad_code[w] == INT64_MAX) bad_code[w] = m;
        if (scales_differ && bad_scale[w] == INT64_MAX) bad_scale[w] = m;
      }
    });
    const int64_t c = *std::min_element(bad_code, bad_code + 256);
    const int64_t s = *std::min_element(bad_scale, bad_scale + 256);
    status[0] = c == INT64_MAX ? -1 : static_cast<int32_t>(std::min<int64_t>(c, INT32_MAX));
    status[1] = s == INT64_MAX ? -1 : static_cast<int32_t>(std::min<int64_t>(s, INT32_MAX));
  };
}

void Init(Napi::Env env, Napi::Object exports) { export_kernel(env, exports, "ternaryPack", PreparePack); }

}  // namespace
}  // namespace ternion

TERNION_MODULE(ternary_pack, ternion::Init);
