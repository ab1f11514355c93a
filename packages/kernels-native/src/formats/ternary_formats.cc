// decode/encode between the on-disk ternary formats (ternary_blocks.h) and plain int8 weights + f32 scales.
// Model-sized (billions of weights), so both split their blocks over the thread pool.
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"
#include "core/work.h"
#include "formats/ternary_blocks.h"

namespace ternion {
namespace {

constexpr int64_t kMaxWeights = int64_t{1} << 40;
// Blocks per thread-pool grain: big enough that the split costs nothing next to the work.
constexpr int64_t kBlockGrain = 4096;

TernaryFormat format_arg(const Napi::CallbackInfo& info, size_t index) {
  return static_cast<TernaryFormat>(int_arg(info, index, "format", 0, 2));
}

void check_weight_count(Napi::Env env, TernaryFormat f, int64_t n) {
  const int64_t bw = ternary_block_weights(f);
  if (n % bw != 0) {
    throw_range_error(env, "argument 2 (nWeights): " + std::to_string(n) + " is not a multiple of " +
                               std::to_string(bw) + " (the block size of the format)");
  }
}

// Every worker records the first bad block of its range; the smallest one over all workers wins, so the
// reported index does not depend on the thread count.
struct FirstBad {
  int64_t per_worker[256];
  void reset() { std::fill(per_worker, per_worker + 256, INT64_MAX); }
  int64_t min() const { return *std::min_element(per_worker, per_worker + 256); }
};

// ternaryDecode(format, bytes, nWeights, values: Int8Array (n), scales: Float32Array (blocks or 1),
//               status: Int32Array (1)) -- status[0] = first block with a code 3, or -1.
Work PrepareDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TernaryFormat f = format_arg(info, 0);
  const int64_t n = int_arg(info, 2, "nWeights", 0, kMaxWeights);
  check_weight_count(env, f, n);
  const ByteView src = bytes_arg(info, 1, "bytes", static_cast<size_t>(ternary_tensor_bytes(f, n)));
  int8_t* values = i8_arg(info, 3, "values", static_cast<size_t>(n)).data;
  const int64_t n_scales = f == TernaryFormat::kI2_S ? 1 : n / kTqBlockWeights;
  float* scales = f32_arg(info, 4, "scales", static_cast<size_t>(n_scales)).data;
  int32_t* status = i32_arg(info, 5, "status", 1).data;
  const uint8_t* bytes = src.data;
  return [f, n, bytes, values, scales, status] {
    FirstBad bad;
    bad.reset();
    const int64_t bw = ternary_block_weights(f);
    ThreadPool::instance().parallel_for(n / bw, kBlockGrain, [&](int64_t b0, int64_t b1, int w) {
      for (int64_t b = b0; b < b1 && bad.per_worker[w] == INT64_MAX; b++) {
        int8_t* out = values + b * bw;
        uint8_t codes[256];
        if (f == TernaryFormat::kI2_S) {
          const uint8_t* blk = bytes + b * kI2sBlockBytes;
          for (int i = 0; i < 128; i++) codes[i] = i2s_code(blk, i);
        } else if (f == TernaryFormat::kTQ2_0) {
          BlockTQ2_0 blk;
          std::memcpy(&blk, bytes + b * kTq2BlockBytes, sizeof blk);
          for (int j = 0; j < 256; j++) codes[j] = tq2_code(blk, j);
          scales[b] = fp16_to_f32(blk.d);
        } else {
          BlockTQ1_0 blk;
          std::memcpy(&blk, bytes + b * kTq1BlockBytes, sizeof blk);
          tq1_codes(blk, codes);
          scales[b] = fp16_to_f32(blk.d);
        }
        uint8_t any3 = 0;
        for (int i = 0; i < bw; i++) {
          any3 |= static_cast<uint8_t>(codes[i] == 3);
          out[i] = static_cast<int8_t>(codes[i] - 1);
        }
        if (any3) bad.per_worker[w] = b;
      }
    });
    if (f == TernaryFormat::kI2_S) std::memcpy(scales, bytes + n / 4, sizeof(float));
    const int64_t first = bad.min();
    status[0] = first == INT64_MAX ? -1 : static_cast<int32_t>(std::min<int64_t>(first, INT32_MAX));
  };
}

// ternaryEncode(format, values: Int8Array (n), scales: Float32Array (blocks or 1), out: Uint8Array
//               (tensor bytes), status: Int32Array (1)) -- status[0] = first block with a value outside
// {-1, 0, 1}, or -1.
Work PrepareEncode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TernaryFormat f = format_arg(info, 0);
  const ArrayView<int8_t> vals = i8_arg(info, 1, "values", 0);
  const int64_t n = static_cast<int64_t>(vals.length);
  if (n % ternary_block_weights(f) != 0) {
    throw_range_error(env, "argument 1 (values): length " + std::to_string(n) + " is not a multiple of " +
                               std::to_string(ternary_block_weights(f)) + " (the block size of the format)");
  }
  const int64_t n_scales = f == TernaryFormat::kI2_S ? 1 : n / kTqBlockWeights;
  const float* scales = f32_arg(info, 2, "scales", static_cast<size_t>(n_scales)).data;
  uint8_t* out = u8_arg(info, 3, "out", static_cast<size_t>(ternary_tensor_bytes(f, n))).data;
  int32_t* status = i32_arg(info, 4, "status", 1).data;
  const int8_t* values = vals.data;
  return [f, n, values, scales, out, status] {
    FirstBad bad;
    bad.reset();
    const int64_t bw = ternary_block_weights(f);
    ThreadPool::instance().parallel_for(n / bw, kBlockGrain, [&](int64_t b0, int64_t b1, int w) {
      for (int64_t b = b0; b < b1; b++) {
        const int8_t* in = values + b * bw;
        uint8_t codes[256];
        bool ok = true;
        for (int i = 0; i < bw; i++) {
          ok &= in[i] >= -1 && in[i] <= 1;
          codes[i] = static_cast<uint8_t>((in[i] + 1) & 3);
        }
        if (!ok && bad.per_worker[w] == INT64_MAX) bad.per_worker[w] = b;
        if (f == TernaryFormat::kI2_S) {
          uint8_t* blk = out + b * kI2sBlockBytes;
          for (int j = 0; j < 32; j++) {
            blk[j] = static_cast<uint8_t>(codes[j] << 6 | codes[j + 32] << 4 | codes[j + 64] << 2 | codes[j + 96]);
          }
        } else if (f == TernaryFormat::kTQ2_0) {
          BlockTQ2_0 blk;
          for (int c = 0; c < 2; c++) {
            for (int m = 0; m < 32; m++) {
              const uint8_t* q = codes + c * 128 + m;
              blk.qs[c * 32 + m] = static_cast<uint8_t>(q[0] | q[32] << 2 | q[64] << 4 | q[96] << 6);
            }
          }
          blk.d = f32_to_fp16(scales[b]);
          std::memcpy(out + b * kTq2BlockBytes, &blk, sizeof blk);
        } else {
          BlockTQ1_0 blk;
          tq1_pack(codes, &blk);
          blk.d = f32_to_fp16(scales[b]);
          std::memcpy(out + b * kTq1BlockBytes, &blk, sizeof blk);
        }
      }
    });
    if (f == TernaryFormat::kI2_S) {
      std::memset(out + n / 4, 0, kI2sTrailerBytes);
      std::memcpy(out + n / 4, scales, sizeof(float));
    }
    const int64_t first = bad.min();
    status[0] = first == INT64_MAX ? -1 : static_cast<int32_t>(std::min<int64_t>(first, INT32_MAX));
  };
}

void Init(Napi::Env env, Napi::Object exports) {
  export_kernel(env, exports, "ternaryDecode", PrepareDecode);
  export_kernel(env, exports, "ternaryEncode", PrepareEncode);
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(ternary_formats, ternion::Init);
