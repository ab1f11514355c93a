// lutPack / lutMatmul: the scalar reference of the lookup-table ternary GEMM (lut_layout.h), the per-call ISA
// dispatch and the N-API bindings. The combine of the exact integer block sums is ternary_matmul.h's, so
// lutMatmul is bit-identical with ternaryMatmul on every ISA.
#include <napi.h>

#include <cstring>
#include <string>

#include "core/isa.h"
#include "core/napi_args.h"
#include "core/pool.h"
#include "core/registry.h"
#include "core/work.h"
#include "lut/lut_layout.h"
#include "ternary/packed_layout.h"
#include "ternary/ternary_matmul.h"

namespace ternion {

void lut_tables_generic(const LutGemm& g, int64_t n, int64_t b, uint8_t* slots) {
  const int8_t* qb = g.q + n * g.Kp + b * kPackedBlockWeights;
  for (int j = 0; j < kLutGroupsPerBlock; j++) {
    int16_t t[32] = {};
    const int a0 = lut_activation(qb, j, 0), a1 = lut_activation(qb, j, 1), a2 = lut_activation(qb, j, 2);
    for (int f = 0; f < kLutPatterns; f++) {
      const int s = lut_pattern_weight(f, 0) * a0 + lut_pattern_weight(f, 1) * a1 + lut_pattern_weight(f, 2) * a2;
      t[f] = static_cast<int16_t>(s);
    }
    std::memcpy(slots + j * kLutTableBytes, t, sizeof t);
  }
}

// Reference: one row at a time, with the SIMD lanes' two int16 accumulators (lut_layout.h).
static void lut_tiles_generic_row(const LutGemm& g, const uint8_t* tables, int64_t n, int64_t t0, int64_t t1) {
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t groups = g.per_block ? nblocks : 1;
  const float* as = g.a_scales + n * groups;
  for (int64_t t = t0; t < t1; t++) {
    for (int64_t r = 0; r < g.R && t * g.R + r < g.M; r++) {
      const int64_t m = t * g.R + r;
      int32_t total = 0;
      float acc = 0.f;
      for (int64_t b = 0; b < nblocks; b++) {
        const uint8_t* tb = tables + b * kLutBlockTableBytes;
        int16_t part[2] = {0, 0};  // fields 0-1, field 2
        const uint16_t* wb = lut_block_words(g, t, b);
        for (int w = 0; w < kLutWordsPerBlock; w++) {
          const unsigned word = wb[w * g.R + r];
          for (int i = 0; i < 3; i++) {
            int16_t e;
            std::memcpy(&e, tb + (3 * w + i) * kLutTableBytes + 2 * ((word >> (5 * i)) & 31), sizeof e);
            part[i / 2] = static_cast<int16_t>(part[i / 2] + e);
          }
        }
        const int32_t s = int32_t{part[0]} + int32_t{part[1]};
        if (g.per_block) {
          acc = ternary_block_step(acc, s, as[b]);
        } else {
          total += s;
        }
      }
      g.y[n * g.M + m] = g.per_block ? ternary_out_per_block(acc, g.w_scales[m])
                                     : ternary_out_per_token(total, as[0], g.w_scales[m]);
    }
  }
}

void lut_tiles_generic(const LutGemm& g, const uint8_t* tables, int64_t table_stride, int64_t n0, int64_t na,
                       int64_t t0, int64_t t1) {
  for (int64_t a = 0; a < na; a++) lut_tiles_generic_row(g, tables + a * table_stride, n0 + a, t0, t1);
}

namespace {

using TablesFn = void (*)(const LutGemm&, int64_t, int64_t, uint8_t*);
using TilesFn = void (*)(const LutGemm&, const uint8_t*, int64_t, int64_t, int64_t, int64_t, int64_t);

// AVX-512 lanes are 32 rows: tiles of 16 rows run the AVX2 kernel.
void pick(int64_t rows_per_tile, TablesFn* tables, TilesFn* tiles) {
  *tables = lut_tables_generic;
  *tiles = lut_tiles_generic;
#ifdef TERNION_X86
  const Isa isa = active_isa();
  if (isa == Isa::kAvx512 && rows_per_tile % 32 == 0) {
    *tables = lut_tables_avx512;
    *tiles = lut_tiles_avx512;
  } else if (isa >= Isa::kAvx2) {
    *tables = lut_tables_avx2;
    *tiles = lut_tiles_avx2;
  }
#endif
}

int64_t check_rows_per_tile(const Napi::CallbackInfo& info, size_t index) {
  const int64_t r = int_arg(info, index, "rowsPerTile", 16, 128);
  if (r != 16 && r != 32 && r != 64 && r != 128) {
    throw_range_error(info.Env(), "argument " + std::to_string(index) + " (rowsPerTile): must be 16, 32, 64 or 128, got " +
                                      std::to_string(r));
  }
  return r;
}

int64_t check_blocks_per_chunk(const Napi::CallbackInfo& info, size_t index, int64_t nblocks) {
  return int_arg(info, index, "blocksPerChunk", 1, nblocks);
}

// lutPack(wData: Uint8Array (M, Kp/4) packed codes, M, Kp, rowsPerTile, out: Uint16Array (tiles * Kp/256 * 29 * R),
//         blocksPerChunk)
Work PreparePack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t M = int_arg(info, 1, "rows (M)", 1, int64_t{1} << 31);
  const int64_t Kp = int_arg(info, 2, "colsPadded", kPackedBlockWeights, kMaxTernaryCols + kPackedBlockWeights);
  if (Kp % kPackedBlockWeights != 0) throw_range_error(env, "argument 2 (colsPadded): must be a multiple of 256");
  const int64_t R = check_rows_per_tile(info, 3);
  const int64_t tiles = (M + R - 1) / R;
  const int64_t nblocks = Kp / kPackedBlockWeights;
  const int64_t B = check_blocks_per_chunk(info, 5, nblocks);
  const uint8_t* src = u8_arg(info, 0, "wData", checked_mul(env, M, Kp / 4, "M * colsPadded / 4")).data;
  uint16_t* out = u16_arg(info, 4, "out",
                          checked_mul(env, checked_mul(env, tiles, nblocks, "tiles * blocks"),
                                      kLutWordsPerBlock * R, "tiles * blocks * 29 * rowsPerTile"))
                      .data;
  return [src, M, Kp, R, B, tiles, nblocks, out] {
    ThreadPool::instance().parallel_for(tiles, 1, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; t++) {
        for (int64_t r = 0; r < R; r++) {
          const int64_t m = t * R + r;
          const uint8_t* row = src + m * (Kp / 4);
          for (int64_t b = 0; b < nblocks; b++) {
            const uint8_t* blk = row + b * kPackedBlockBytes;
            uint16_t* words = out + lut_block_offset(M, Kp, R, B, t, b) + r;
            for (int w = 0; w < kLutWordsPerBlock; w++) {
              unsigned word = 0;
              for (int i = 0; i < 3; i++) {
                int f = kLutZeroPattern;
                if (m < M) {
                  f = 0;
                  for (int d = 2; d >= 0; d--) {
                    const int s = kLutGroupWeights * (3 * w + i) + d;  // weight slot in the block
                    const int code = s < 256 ? (blk[s & 63] >> (2 * (s >> 6))) & 3 : 1;
                    f = 3 * f + code;
                  }
                }
                word |= static_cast<unsigned>(f) << (5 * i);
              }
              words[w * R] = static_cast<uint16_t>(word);
            }
          }
        }
      }
    });
  };
}

// lutMatmul(wData: Uint16Array, wRowScales: Float32Array (M), M, Kp, rowsPerTile, q: Int8Array (>= N*Kp),
//           aScales: Float32Array (>= N * groups), mode (0 per-token, 1 per-block-256), N, y: Float32Array
//           (>= N*M), scratch: Uint8Array (>= one activation row's tables: Kp/256 * 87 * 64 bytes), blocksPerChunk)
Work PrepareMatmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LutGemm g{};
  g.M = int_arg(info, 2, "rows (M)", 1, int64_t{1} << 31);
  g.Kp = int_arg(info, 3, "colsPadded", kPackedBlockWeights, kMaxTernaryCols + kPackedBlockWeights);
  if (g.Kp % kPackedBlockWeights != 0) throw_range_error(env, "argument 3 (colsPadded): must be a multiple of 256");
  g.R = check_rows_per_tile(info, 4);
  g.per_block = int_arg(info, 7, "mode", 0, 1) == 1;
  g.N = int_arg(info, 8, "N", 1, int64_t{1} << 24);
  const int64_t nblocks = g.Kp / kPackedBlockWeights;
  const int64_t groups = g.per_block ? nblocks : 1;
  const int64_t tiles = (g.M + g.R - 1) / g.R;
  g.B = check_blocks_per_chunk(info, 11, nblocks);
  g.w = u16_arg(info, 0, "wData",
                checked_mul(env, checked_mul(env, tiles, nblocks, "tiles * blocks"), kLutWordsPerBlock * g.R,
                            "tiles * blocks * 29 * rowsPerTile"))
            .data;
  g.w_scales = f32_arg(info, 1, "wRowScales", static_cast<size_t>(g.M)).data;
  g.q = i8_arg(info, 5, "q", checked_mul(env, g.N, g.Kp, "N * colsPadded")).data;
  g.a_scales = f32_arg(info, 6, "aScales", checked_mul(env, g.N, groups, "N * groups")).data;
  g.y = f32_arg(info, 9, "y", checked_mul(env, g.N, g.M, "N * M")).data;
  const int64_t row_tables = nblocks * kLutBlockTableBytes;
  const ByteView scratch = bytes_arg(info, 10, "scratch", static_cast<size_t>(row_tables));
  // As many activation rows per pass as the scratch holds: each pass reads the weights once.
  const int64_t chunk = static_cast<int64_t>(scratch.bytes) / row_tables < g.N
                            ? static_cast<int64_t>(scratch.bytes) / row_tables
                            : g.N;
  uint8_t* tables = scratch.data;
  return [g, nblocks, tiles, row_tables, chunk, tables] {
    TablesFn build;
    TilesFn run;
    pick(g.R, &build, &run);
    ThreadPool& pool = ThreadPool::instance();
    for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
      const int64_t rows = g.N - n0 < chunk ? g.N - n0 : chunk;
      // ~1 us per block of tables: only large builds are worth a fork/join.
      pool.parallel_for(rows * nblocks, 32, [&](int64_t i0, int64_t i1, int) {
        for (int64_t i = i0; i < i1; i++) build(g, n0 + i / nblocks, i % nblocks, tables + i * kLutBlockTableBytes);
      });
      pool.parallel_for(tiles, 1, [&](int64_t t0, int64_t t1, int) { run(g, tables, row_tables, n0, rows, t0, t1); });
    }
  };
}

void Init(Napi::Env env, Napi::Object exports) {
  export_kernel(env, exports, "lutPack", PreparePack);
  export_kernel(env, exports, "lutMatmul", PrepareMatmul);
}

}  // namespace
}  // namespace ternion

TERNION_MODULE(lut, ternion::Init);
TERNION_KERNEL(lut_matmul, "generic", "avx2-pshufb", "avx512-vpermw");
