// Embedding lookup: out (n, dim) f32 = rows of a token table stored as F32, F16 or Q8_0.
//
// Token ids are read when the Work runs (a recorded Program replays with new ids), so the bounds check lives
// here, not in Prepare: an id outside [0, rows) never reads the table; its output row is zero-filled and
// counted in the optional status (Int32Array(2): [out-of-range count, first bad position or -1]). The TS
// facade turns a non-zero count into a RangeError for direct calls.
#include <napi.h>

#include <cstring>
#include <string>

#include "common/fp16.h"
#include "core/napi_args.h"
#include "core/registry.h"
#include "core/work.h"
#include "dense/dense_kernels.h"

namespace ternion {
namespace {

enum class TableKind { kF32, kF16, kQ8_0 };

void gather_row(const uint8_t* table, TableKind kind, int64_t dim, int64_t row, float* out) {
  switch (kind) {
    case TableKind::kF32:
      std::memcpy(out, table + row * dim * 4, static_cast<size_t>(dim) * 4);
      return;
    case TableKind::kF16: {
      const uint8_t* src = table + row * dim * 2;  // (dim) half bits, maybe only 2-byte aligned
      for (int64_t c = 0; c < dim; c++) {
        uint16_t h;
        std::memcpy(&h, src + c * 2, 2);
        out[c] = fp16_to_f32(h);
      }
      return;
    }
    case TableKind::kQ8_0: {
      const int64_t blocks = dim / kQ8_0BlockElems;
      const uint8_t* src = table + row * blocks * kQ8_0BlockBytes;
      for (int64_t b = 0; b < blocks; b++) {
        const uint8_t* block = src + b * kQ8_0BlockBytes;
        uint16_t d_bits;
        std::memcpy(&d_bits, block, 2);
        const float d = fp16_to_f32(d_bits);
        const int8_t* qs = reinterpret_cast<const int8_t*>(block + 2);
        for (int64_t c = 0; c < kQ8_0BlockElems; c++) out[b * kQ8_0BlockElems + c] = d * static_cast<float>(qs[c]);
      }
      return;
    }
  }
}

// embeddingGather(table, kind, rows, dim, tokens (n), n, out (n, dim), status? Int32Array(2))
Work PrepareEmbeddingGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsString()) throw_type_error(env, "argument 1 (kind): expected 'f32', 'f16' or 'q8_0'");
  const std::string kind_name = info[1].As<Napi::String>().Utf8Value();
  TableKind kind;
  if (kind_name == "f32") kind = TableKind::kF32;
  else if (kind_name == "f16") kind = TableKind::kF16;
  else if (kind_name == "q8_0") kind = TableKind::kQ8_0;
  else throw_range_error(env, "argument 1 (kind): expected 'f32', 'f16' or 'q8_0', got '" + kind_name + "'");
  const int64_t rows = int_arg(info, 2, "rows", 1, int64_t{1} << 31);
  const int64_t dim = int_arg(info, 3, "dim", 1, int64_t{1} << 31);
  if (kind == TableKind::kQ8_0 && dim % kQ8_0BlockElems != 0) {
    throw_range_error(env, "argument 3 (dim): Q8_0 needs a multiple of 32, got " + std::to_string(dim));
  }
  const int64_t n = int_arg(info, 5, "n", 1, int64_t{1} << 31);
  const size_t row_bytes = kind == TableKind::kF32   ? checked_mul(env, dim, 4, "dim*4")
                           : kind == TableKind::kF16 ? checked_mul(env, dim, 2, "dim*2")
                                                     : static_cast<size_t>(dim / kQ8_0BlockElems * kQ8_0BlockBytes);
  const size_t table_bytes = checked_mul(env, rows, row_bytes, "rows*rowBytes");
  const uint8_t* table = nullptr;
  switch (kind) {
    case TableKind::kF32:
      table = reinterpret_cast<const uint8_t*>(f32_arg(info, 0, "table", rows * dim).data);
      break;
    case TableKind::kF16:
      table = reinterpret_cast<const uint8_t*>(u16_arg(info, 0, "table", rows * dim).data);
      break;
    case TableKind::kQ8_0:
      table = u8_arg(info, 0, "table", table_bytes).data;
      break;
  }
  const int32_t* tokens = i32_arg(info, 4, "tokens", n).data;
  float* out = f32_arg(info, 6, "out", checked_mul(env, n, dim, "n*dim")).data;
  int32_t* status = info[7].IsUndefined() ? nullptr : i32_arg(info, 7, "status", 2).data;
  return [table, kind, rows, dim, tokens, n, out, status] {
    int32_t bad = 0, first_bad = -1;
    for (int64_t i = 0; i < n; i++) {
      const int64_t token = tokens[i];  // read now: a replayed Program sees this step's ids
      float* dst = out + i * dim;       // (dim)
      if (token < 0 || token >= rows) {
        std::memset(dst, 0, static_cast<size_t>(dim) * 4);
        if (bad++ == 0) first_bad = static_cast<int32_t>(i);
        continue;
      }
      gather_row(table, kind, dim, token, dst);
    }
    if (status) {
      status[0] = bad;
      status[1] = first_bad;
    }
  };
}

void Init(Napi::Env env, Napi::Object exports) {
  export_kernel(env, exports, "embeddingGather", PrepareEmbeddingGather);
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(embedding, ternion::Init);
TERNION_KERNEL(embedding_gather, "generic", "generic", "generic");
