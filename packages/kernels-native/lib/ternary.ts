import type { ActivationQuantization } from '@ternion/contracts';
import {
  checkCount,
  checkGemmOutput,
  checkInt,
  checkPackedTernaryBuffers,
  type PreparedCall,
} from './args.js';
import { type TernaryFormat, ternaryFormatId, ternaryTensorBytes } from './formats.js';
import { native } from './native.js';

export type { ActivationQuantization };

/** Weights per block of the packed runtime layout (src/ternary/packed_layout.h). */
export const PACKED_TERNARY_BLOCK_WEIGHTS = 256;
/** Bytes per block: byte j holds the codes (w+1) of k = j, j+64, j+128, j+192 in bits 0-1, 2-3, 4-5, 6-7. */
export const PACKED_TERNARY_BLOCK_BYTES = 64;
/** Activation quantization group of 'per-block-256' (llama.cpp Q8_K). */
export const ACTIVATION_BLOCK = 256;
/** Largest supported K: keeps every int32 dot product exact. */
export const MAX_TERNARY_COLS = 1 << 22;

/**
 * Ternary weights in the layout the GEMM kernels read: row m is `colsPadded / 4` bytes of 64-byte blocks,
 * padding weights are 0 (code 1); W[m][k] = (code - 1) * rowScales[m].
 */
export interface PackedTernary {
  readonly rows: number;
  readonly cols: number;
  /** cols rounded up to a multiple of 256. */
  readonly colsPadded: number;
  /** (rows, colsPadded / 4) */
  readonly data: Uint8Array;
  /** (rows) */
  readonly rowScales: Float32Array;
}

/** int8 activations ready for ternaryMatmul; allocate once with allocQuantizedActivations, reuse per call. */
export interface QuantizedActivations {
  readonly maxRows: number;
  readonly cols: number;
  readonly colsPadded: number;
  readonly mode: ActivationQuantization;
  /** (maxRows, colsPadded), zero padded */
  readonly q: Int8Array;
  /** (maxRows, groups) dequantisation multipliers: x ≈ q * scale. groups = 1 or colsPadded / 256. */
  readonly scales: Float32Array;
  /** (maxRows, groups) sum of q over each group. */
  readonly sums: Int32Array;
  /**
   * Float order of ternaryMatmul's epilogue: 'ternion' (default) or 'llama.cpp' — per-block-256 only: the
   * 8-lane order of llama.cpp's x86 TQ1_0/TQ2_0 dot products, so results equal llama.cpp's to the last bit
   * (a comparison mode; a plain row-by-row kernel, not the tiled ones; lutMatmul refuses it).
   */
  readonly dot?: 'ternion' | 'llama.cpp';
}

interface TernaryNative {
  ternaryPack(
    format: number,
    bytes: Uint8Array,
    rows: number,
    cols: number,
    data: Uint8Array,
    rowScales: Float32Array,
    status: Int32Array,
  ): void;
  ternaryPackAsync(...args: Parameters<TernaryNative['ternaryPack']>): Promise<void>;
  ternaryQuantize(
    x: Float32Array,
    rows: number,
    cols: number,
    colsPadded: number,
    mode: number,
    q: Int8Array,
    scales: Float32Array,
    sums: Int32Array,
  ): void;
  ternaryMatmul(
    wData: Uint8Array,
    wRowScales: Float32Array,
    m: number,
    colsPadded: number,
    q: Int8Array,
    aScales: Float32Array,
    aSums: Int32Array,
    mode: number,
    n: number,
    y: Float32Array,
  ): void;
  ternaryMatmulAsync(...args: Parameters<TernaryNative['ternaryMatmul']>): Promise<void>;
  /** count, colsPadded, q, aScales, aSums, mode, n, then count x (wData, wRowScales, m, y). */
  ternaryMatmulGroup(...args: unknown[]): void;
  ternaryMatmulGroupAsync(...args: unknown[]): Promise<void>;
}
const n = native as unknown as TernaryNative;

function modeId(fn: string, mode: ActivationQuantization): number {
  if (mode === 'per-token') return 0;
  if (mode === 'per-block-256') return 1;
  throw new TypeError(`${fn}: mode must be 'per-token' or 'per-block-256', got ${String(mode)}`);
}

/** cols rounded up to the 256-weight block. */
export function ternaryColsPadded(cols: number): number {
  return Math.ceil(cols / PACKED_TERNARY_BLOCK_WEIGHTS) * PACKED_TERNARY_BLOCK_WEIGHTS;
}

function preparePack(
  fn: string,
  format: TernaryFormat,
  bytes: Uint8Array,
  rows: number,
  cols: number,
): PreparedCall<Parameters<TernaryNative['ternaryPack']>, PackedTernary> {
  const id = ternaryFormatId(format, fn);
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array`);
  checkCount(fn, 'rows', rows);
  checkInt(fn, 'cols', cols, 1, MAX_TERNARY_COLS);
  if (format !== 'I2_S' && cols % 256 !== 0) {
    throw new RangeError(`${fn}: cols (${cols}) must be a multiple of 256 for ${format}`);
  }
  const need = ternaryTensorBytes(format, rows * cols);
  if (bytes.length < need) {
    throw new RangeError(`${fn}: bytes holds ${bytes.length} bytes, ${format} ${rows}x${cols} needs ${need}`);
  }
  const colsPadded = ternaryColsPadded(cols);
  const data = new Uint8Array(rows * (colsPadded / 4));
  const rowScales = new Float32Array(rows);
  const status = new Int32Array(2).fill(-2); // the kernel writes -1 (fine) or a row index
  return {
    args: [id, bytes, rows, cols, data, rowScales, status],
    finish: () => {
      if (status[0] === -2) throw new Error(`${fn}: did not run (it cannot be recorded into a program)`);
      if (status[0] !== -1) throw new RangeError(`${fn}: row ${status[0]} holds the invalid code 3`);
      if (status[1] !== -1) {
        throw new RangeError(
          `${fn}: row ${status[1]} has blocks with different scales; the packed layout needs one scale per row`,
        );
      }
      return { rows, cols, colsPadded, data, rowScales };
    },
  };
}

/**
 * Repacks a GGUF ternary tensor (ne0 = cols = K, ne1 = rows = M, row-major) into the runtime layout. I2_S rows
 * may start anywhere inside its 128-weight blocks; TQ* need cols % 256 == 0 (as GGUF does) and one scale per
 * row: RangeError names the first row whose non-zero blocks carry different scales.
 */
export function packTernary(
  format: TernaryFormat,
  bytes: Uint8Array,
  rows: number,
  cols: number,
): PackedTernary {
  const call = preparePack('packTernary', format, bytes, rows, cols);
  n.ternaryPack(...call.args);
  return call.finish();
}

/** packTernary off the JS thread (model load): do not modify `bytes` until the promise settles. */
export async function packTernaryAsync(...args: Parameters<typeof packTernary>): Promise<PackedTernary> {
  const call = preparePack('packTernaryAsync', ...args);
  await n.ternaryPackAsync(...call.args);
  return call.finish();
}

/**
 * Random valid weights in the runtime layout, for timing kernels (benchmarks, @ternion/tmac's kernel
 * chooser): codes 0/1/2 in every 2-bit field, tiled from a 64 KiB pattern of an LCG seeded with `seed`,
 * padding weights 0, one scale per row. Not a model's weights: use packTernary for those.
 */
export function randomPackedTernary(rows: number, cols: number, seed: number): PackedTernary {
  checkCount('randomPackedTernary', 'rows', rows);
  checkInt('randomPackedTernary', 'cols', cols, 1, MAX_TERNARY_COLS);
  const colsPadded = ternaryColsPadded(cols);
  const data = new Uint8Array((rows * colsPadded) / 4); // (rows, colsPadded / 4)
  const pattern = new Uint8Array(1 << 16);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < pattern.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    let b = 0;
    for (let f = 0; f < 4; f++) b |= ((s >>> (8 * f)) % 3) << (2 * f);
    pattern[i] = b;
  }
  for (let o = 0; o < data.length; o += pattern.length) data.set(pattern.subarray(0, data.length - o), o);
  // Padding weights are 0 (code 1), as the layout requires: byte j of block b holds k = 256b + 64p + j.
  const rowBytes = colsPadded / 4;
  for (let r = 0; r < rows; r++) {
    for (let k = cols; k < colsPadded; k++) {
      const at = r * rowBytes + (k >> 8) * 64 + (k & 63);
      const shift = 2 * ((k >> 6) & 3);
      data[at] = (data[at]! & ~(3 << shift)) | (1 << shift);
    }
  }
  return { rows, cols, colsPadded, data, rowScales: new Float32Array(rows).fill(0.01) };
}

export function allocQuantizedActivations(
  maxRows: number,
  cols: number,
  mode: ActivationQuantization,
  options: { dot?: 'ternion' | 'llama.cpp' } = {},
): QuantizedActivations {
  const fn = 'allocQuantizedActivations';
  checkInt(fn, 'maxRows', maxRows, 1, 1 << 24);
  checkInt(fn, 'cols', cols, 1, MAX_TERNARY_COLS);
  modeId(fn, mode);
  const dot = options.dot ?? 'ternion';
  if (dot !== 'ternion' && dot !== 'llama.cpp') {
    throw new TypeError(`${fn}: dot must be 'ternion' or 'llama.cpp', got ${String(dot)}`);
  }
  if (dot === 'llama.cpp' && mode !== 'per-block-256') {
    throw new RangeError(`${fn}: dot 'llama.cpp' needs mode 'per-block-256' (llama.cpp's Q8_K activations)`);
  }
  const colsPadded = ternaryColsPadded(cols);
  const groups = mode === 'per-token' ? 1 : colsPadded / ACTIVATION_BLOCK;
  return {
    maxRows,
    cols,
    colsPadded,
    mode,
    q: new Int8Array(maxRows * colsPadded),
    scales: new Float32Array(maxRows * groups),
    sums: new Int32Array(maxRows * groups),
    dot,
  };
}

function checkActivations(fn: string, qa: QuantizedActivations): number {
  if (typeof qa !== 'object' || qa === null) throw new TypeError(`${fn}: expected QuantizedActivations`);
  const mode = modeId(fn, qa.mode);
  checkInt(fn, 'QuantizedActivations.maxRows', qa.maxRows, 1, 1 << 24);
  checkInt(fn, 'QuantizedActivations.cols', qa.cols, 1, MAX_TERNARY_COLS);
  if (
    !(qa.q instanceof Int8Array) ||
    !(qa.scales instanceof Float32Array) ||
    !(qa.sums instanceof Int32Array)
  ) {
    throw new TypeError(
      `${fn}: QuantizedActivations must hold q: Int8Array, scales: Float32Array, sums: Int32Array`,
    );
  }
  if (qa.colsPadded !== ternaryColsPadded(qa.cols)) {
    throw new RangeError(
      `${fn}: QuantizedActivations colsPadded (${qa.colsPadded}) does not match cols (${qa.cols})`,
    );
  }
  const groups = mode === 0 ? 1 : qa.colsPadded / ACTIVATION_BLOCK;
  if (
    qa.q.length < qa.maxRows * qa.colsPadded ||
    qa.scales.length < qa.maxRows * groups ||
    qa.sums.length < qa.maxRows * groups
  ) {
    throw new RangeError(`${fn}: QuantizedActivations buffers are smaller than maxRows x colsPadded`);
  }
  return mode;
}

/** Quantizes `rows` rows of x (rows, cols) into qa (bit-exact with bitnet.cpp / llama.cpp, see activation_quant.h). */
export function quantizeActivations(x: Float32Array, rows: number, qa: QuantizedActivations): void {
  const fn = 'quantizeActivations';
  const mode = checkActivations(fn, qa);
  if (!(x instanceof Float32Array)) throw new TypeError(`${fn}: x must be a Float32Array`);
  checkInt(fn, 'rows', rows, 1, qa.maxRows);
  if (x.length < rows * qa.cols) {
    throw new RangeError(`${fn}: x has ${x.length} elements, ${rows} x ${qa.cols} are needed`);
  }
  n.ternaryQuantize(x, rows, qa.cols, qa.colsPadded, mode, qa.q, qa.scales, qa.sums);
}

function matmulArgs(
  fn: string,
  w: PackedTernary,
  a: QuantizedActivations,
  rows: number,
  y: Float32Array,
): Parameters<TernaryNative['ternaryMatmul']> {
  const mode = checkActivations(fn, a);
  checkPackedTernaryBuffers(fn, w);
  if (w.cols !== a.cols || w.colsPadded !== a.colsPadded) {
    throw new RangeError(`${fn}: w has ${w.cols} cols, the activations ${a.cols}`);
  }
  if (w.data.length < w.rows * (w.colsPadded / 4) || w.rowScales.length < w.rows) {
    throw new RangeError(`${fn}: w buffers are smaller than rows x colsPadded / 4`);
  }
  checkInt(fn, 'rows', rows, 1, a.maxRows);
  checkGemmOutput(fn, y, rows, w.rows);
  if (a.dot !== undefined && a.dot !== 'ternion' && (a.dot !== 'llama.cpp' || mode !== 1)) {
    throw new RangeError(`${fn}: dot must be 'ternion', or 'llama.cpp' with per-block-256 activations`);
  }
  const gemmMode = a.dot === 'llama.cpp' ? 2 : mode; // 2: per-block-256 in llama.cpp's float order
  return [w.data, w.rowScales, w.rows, w.colsPadded, a.q, a.scales, a.sums, gemmMode, rows, y];
}

/**
 * y (rows, w.rows) = X W^T in the quantized domain: Y[n][m] = Σ_k W[m][k]·X[n][k] with the scales applied
 * (per-token: isum * (aScale * wScale); per-block-256: (Σ_b isum_b * aScale_b) * wScale). Bit-identical on
 * every ISA. Inside recordProgram() the call is recorded; it reads a and w when it runs.
 */
export function ternaryMatmul(
  w: PackedTernary,
  a: QuantizedActivations,
  rows: number,
  y: Float32Array,
): void {
  n.ternaryMatmul(...matmulArgs('ternaryMatmul', w, a, rows, y));
}

/** ternaryMatmul on a libuv worker; do not touch w, a or y until the promise settles. */
export function ternaryMatmulAsync(...args: Parameters<typeof ternaryMatmul>): Promise<void> {
  return n.ternaryMatmulAsync(...matmulArgs('ternaryMatmulAsync', ...args));
}

/** Most matrices in one ternaryMatmulGroup call. */
export const TERNARY_GROUP_MAX = 4;

function groupArgs(
  fn: string,
  ws: readonly PackedTernary[],
  a: QuantizedActivations,
  rows: number,
  ys: readonly Float32Array[],
): unknown[] {
  if (!Array.isArray(ws) || ws.length < 1 || ws.length > TERNARY_GROUP_MAX) {
    throw new RangeError(`${fn}: ws must be an array of 1 to ${TERNARY_GROUP_MAX} packed matrices`);
  }
  if (!Array.isArray(ys) || ys.length !== ws.length) {
    throw new RangeError(
      `${fn}: ys must hold one output per matrix (${ws.length}), got ${String(ys?.length)}`,
    );
  }
  // The matrices' rows run in one pool job: outputs sharing memory would be written by several threads at once.
  for (let i = 0; i < ys.length; i++) {
    for (let j = 0; j < i; j++) {
      const a0 = ys[i]!;
      const b0 = ys[j]!;
      if (!(a0 instanceof Float32Array) || !(b0 instanceof Float32Array) || a0.buffer !== b0.buffer) continue;
      const [aStart, aEnd] = [a0.byteOffset, a0.byteOffset + rows * ws[i]!.rows * 4];
      const [bStart, bEnd] = [b0.byteOffset, b0.byteOffset + rows * ws[j]!.rows * 4];
      if (aStart < bEnd && bStart < aEnd) throw new RangeError(`${fn}: ys[${j}] and ys[${i}] overlap`);
    }
  }
  const args: unknown[] = [];
  for (let i = 0; i < ws.length; i++) {
    const [wData, wRowScales, m, colsPadded, q, aScales, aSums, mode, count, y] = matmulArgs(
      `${fn} (matrix ${i})`,
      ws[i]!,
      a,
      rows,
      ys[i]!,
    );
    if (i === 0) args.push(ws.length, colsPadded, q, aScales, aSums, mode, count);
    args.push(wData, wRowScales, m, y);
  }
  return args;
}

/**
 * ternaryMatmul of several matrices over the same activations — a layer's q, k and v, or its gate and up — in
 * one call: ys[i] (rows, ws[i].rows) = X ws[i]^T, bit-identical to ternaryMatmul(ws[i], a, rows, ys[i]). The
 * pool runs their rows as one job (one wake-up and one tail wait instead of one per matrix) and the batched
 * kernel interleaves the activations once for all. Up to TERNARY_GROUP_MAX matrices.
 */
export function ternaryMatmulGroup(
  ws: readonly PackedTernary[],
  a: QuantizedActivations,
  rows: number,
  ys: readonly Float32Array[],
): void {
  n.ternaryMatmulGroup(...groupArgs('ternaryMatmulGroup', ws, a, rows, ys));
}

/** ternaryMatmulGroup on a libuv worker; do not touch ws, a or ys until the promise settles. */
export function ternaryMatmulGroupAsync(...args: Parameters<typeof ternaryMatmulGroup>): Promise<void> {
  return n.ternaryMatmulGroupAsync(...groupArgs('ternaryMatmulGroupAsync', ...args));
}
