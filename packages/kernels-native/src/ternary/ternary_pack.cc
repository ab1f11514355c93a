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

constexpr int64_t kMaxCols = int64_t{1} << 22;  // keeps |sum code*q| < 2^31 in every kernel
constexpr int64_t kRowGrain = 16;

// Codes and scale of source block `b` of a TQ tensor. Returns the block's scale.
float tq_block_codes(TernaryFormat f, const uint8_t* bytes, int64_t b, uint8_t* codes /* (256) */) {
  if (f == TernaryFormat::kTQ2_0) {
    BlockTQ2_0 blk;
    std::memcpy(&blk, bytes + b * kTq2BlockBytes, sizeof blk);
    for (int j = 0; j < 256; j++) codes[j] = tq2_code(blk, j);
    return fp16_to_f32(blk.d);
  }
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

// ternaryPack(format, bytes, rows, cols, data: Uint8Array (rows * colsPadded/4), rowScales: Float32Array
//             (rows), status: Int32Array (2)) -- status[0] = first row holding a code 3 (invalid), status[1] =
// first row whose non-zero TQ blocks have different scales; -1 when none.
Work PreparePack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto f = static_cast<TernaryFormat>(int_arg(info, 0, "format", 0, 2));
  const int64_t rows = int_arg(info, 2, "rows", 1, int64_t{1} << 31);
  const int64_t cols = int_arg(info, 3, "cols", 1, kMaxCols);
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
          if (f == TernaryFormat::kI2_S) {
            i2s_codes(bytes, m * cols + k0, len, codes);
          } else {
            const float s = tq_block_codes(f, bytes, m * (cols / kTqBlockWeights) + b, codes);
            bool all_zero = true;
            for (int j = 0; j < 256; j++) all_zero &= codes[j] == 1;
            if (!have_scale && (!all_zero || b == 0)) {
              scale = s;
              have_scale = !all_zero;
            } else if (!all_zero && !(s == scale)) {
              scales_differ = true;
            }
          }
          for (int j = 0; j < len; j++) any3 |= static_cast<uint8_t>(codes[j] == 3);
          for (int j = len; j < 256; j++) codes[j] = 1;
          pack_block(codes, out + b * kPackedBlockBytes);
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
