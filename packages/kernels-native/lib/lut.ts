/**
 * Lookup-table (T-MAC / bitnet.cpp TL2 style) ternary GEMM: weights re-laid out once into 5-bit indices of
 * 3-weight patterns, activation tables built per call, results bit-identical with `ternaryMatmul`.
 * Layout contract: src/lut/lut_layout.h.
 */

import {
  checkCount,
  checkGemmOutput,
  checkInt,
  checkPackedTernaryBuffers,
  type PreparedCall,
} from './args.js';
import { native } from './native.js';
import {
  ACTIVATION_BLOCK,
  MAX_TERNARY_COLS,
  type PackedTernary,
  type QuantizedActivations,
  ternaryColsPadded,
} from './ternary.js';

/** Weights per lookup group (27 patterns). */
export const LUT_GROUP_WEIGHTS = 3;
/** uint16 words per row per 256-weight block: 3 pattern indices of 5 bits each (87 groups, the last all zero). */
export const LUT_WORDS_PER_BLOCK = 29;
/** Table bytes per activation row per 256-weight block: 87 groups x 64-byte slots. */
export const LUT_BLOCK_TABLE_BYTES = 87 * 64;
/** The pattern index of three zero weights (codes 1, 1, 1): rows past `rows` hold it. */
export const LUT_ZERO_PATTERN = 13;

export type LutRowsPerTile = 16 | 32 | 64 | 128;

/** Tile sizes are runtime data: pick them per shape and ISA (see @ternion/tmac layoutForShape). */
export interface LutTiling {
  /** Rows interleaved per tile (SIMD lanes): AVX-512 needs a multiple of 32, AVX2 of 16. */
  readonly rowsPerTile: LutRowsPerTile;
  /**
   * 256-column blocks per K chunk: the kernels walk one chunk over all tiles at a time, so its tables
   * (5568 bytes per block) should fit L1. Clamped to the number of blocks; default all of them.
   */
  readonly blocksPerChunk: number;
}

/** Ternary weights in LUT-index form. W[m][k] = (code - 1) * rowScales[m] as in PackedTernary. */
export interface LutWeights {
  readonly rows: number;
  readonly cols: number;
  readonly colsPadded: number;
  readonly rowsPerTile: LutRowsPerTile;
  /** K chunk in 256-column blocks, 1 <= blocksPerChunk <= colsPadded / 256 */
  readonly blocksPerChunk: number;
  /** ceil(rows / rowsPerTile) */
  readonly tiles: number;
  /**
   * (chunks, tiles, blocks of the chunk, 29, rowsPerTile) pattern words f0 | f1 << 5 | f2 << 10,
   * f = c0 + 3 c1 + 9 c2 (src/lut/lut_layout.h)
   */
  readonly data: Uint16Array;
  /** (rows), shared with the PackedTernary it was made from */
  readonly rowScales: Float32Array;
}

interface LutNative {
  lutPack(
    wData: Uint8Array,
    m: number,
    colsPadded: number,
    rowsPerTile: number,
    out: Uint16Array,
    blocksPerChunk: number,
  ): void;
  lutPackAsync(...args: Parameters<LutNative['lutPack']>): Promise<void>;
  lutMatmul(
    wData: Uint16Array,
    wRowScales: Float32Array,
    m: number,
    colsPadded: number,
    rowsPerTile: number,
    q: Int8Array,
    aScales: Float32Array,
    mode: number,
    n: number,
    y: Float32Array,
    scratch: Uint8Array,
    blocksPerChunk: number,
  ): void;
  lutMatmulAsync(...args: Parameters<LutNative['lutMatmul']>): Promise<void>;
}
const n = native as unknown as LutNative;

function checkRowsPerTile(fn: string, r: unknown): LutRowsPerTile {
  if (r !== 16 && r !== 32 && r !== 64 && r !== 128) {
    throw new RangeError(`${fn}: rowsPerTile must be 16, 32, 64 or 128, got ${String(r)}`);
  }
  return r;
}

function checkPacked(fn: string, w: PackedTernary): void {
  checkPackedTernaryBuffers(fn, w);
  checkCount(fn, 'w.rows', w.rows);
  checkInt(fn, 'w.cols', w.cols, 1, MAX_TERNARY_COLS);
  if (w.colsPadded !== ternaryColsPadded(w.cols)) {
    throw new RangeError(`${fn}: w.colsPadded (${w.colsPadded}) does not match w.cols (${w.cols})`);
  }
  if (w.data.length < w.rows * (w.colsPadded / 4) || w.rowScales.length < w.rows) {
    throw new RangeError(`${fn}: w buffers are smaller than rows x colsPadded / 4`);
  }
}

/** Words of LutWeights.data for a rows x cols matrix. */
export function lutWeightWords(rows: number, cols: number, rowsPerTile: LutRowsPerTile): number {
  const tiles = Math.ceil(rows / rowsPerTile);
  return tiles * (ternaryColsPadded(cols) / 256) * LUT_WORDS_PER_BLOCK * rowsPerTile;
}

function preparePack(
  fn: string,
  w: PackedTernary,
  tiling: Partial<LutTiling> | undefined,
): PreparedCall<Parameters<LutNative['lutPack']>, LutWeights> {
  checkPacked(fn, w);
  const rowsPerTile = checkRowsPerTile(fn, tiling?.rowsPerTile ?? 32);
  const nblocks = w.colsPadded / 256;
  const chunk = tiling?.blocksPerChunk ?? nblocks;
  checkCount(fn, 'blocksPerChunk', chunk);
  const blocksPerChunk = Math.min(chunk, nblocks);
  const data = new Uint16Array(lutWeightWords(w.rows, w.cols, rowsPerTile));
  const result: LutWeights = {
    rows: w.rows,
    cols: w.cols,
    colsPadded: w.colsPadded,
    rowsPerTile,
    blocksPerChunk,
    tiles: Math.ceil(w.rows / rowsPerTile),
    data,
    rowScales: w.rowScales,
  };
  return { args: [w.data, w.rows, w.colsPadded, rowsPerTile, data, blocksPerChunk], finish: () => result };
}

/** Re-lays out packed ternary weights (from any format packTernary reads) into LUT-index form (multithreaded). */
export function lutPack(w: PackedTernary, tiling?: Partial<LutTiling>): LutWeights {
  const call = preparePack('lutPack', w, tiling);
  n.lutPack(...call.args);
  return call.finish();
}

/** lutPack off the JS thread (model load). */
export async function lutPackAsync(...args: Parameters<typeof lutPack>): Promise<LutWeights> {
  const call = preparePack('lutPackAsync', ...args);
  await n.lutPackAsync(...call.args);
  return call.finish();
}

/**
 * Scratch bytes for the per-call activation tables of `activationRows` rows at once (5568 bytes per row per
 * 256 columns). A call with more rows than the scratch holds walks them in chunks, re-reading the weights per
 * chunk; one row's worth is the minimum.
 */
export function lutScratchBytes(cols: number, activationRows: number): number {
  checkInt('lutScratchBytes', 'cols', cols, 1, MAX_TERNARY_COLS);
  checkInt('lutScratchBytes', 'activationRows', activationRows, 1, 1 << 24);
  return (ternaryColsPadded(cols) / 256) * LUT_BLOCK_TABLE_BYTES * activationRows;
}

/** Scratch for lutMatmul; allocate once, reuse per call (one per concurrent call). */
export function allocLutScratch(cols: number, activationRows: number): Uint8Array {
  return new Uint8Array(lutScratchBytes(cols, activationRows));
}

function matmulArgs(
  fn: string,
  w: LutWeights,
  a: QuantizedActivations,
  rows: number,
  y: Float32Array,
  scratch: Uint8Array,
): Parameters<LutNative['lutMatmul']> {
  if (
    typeof w !== 'object' ||
    w === null ||
    !(w.data instanceof Uint16Array) ||
    !(w.rowScales instanceof Float32Array)
  ) {
    throw new TypeError(`${fn}: w must be LutWeights (data: Uint16Array, rowScales: Float32Array)`);
  }
  const rowsPerTile = checkRowsPerTile(fn, w.rowsPerTile);
  checkCount(fn, 'w.rows', w.rows);
  checkInt(fn, 'w.cols', w.cols, 1, MAX_TERNARY_COLS);
  checkInt(fn, 'w.blocksPerChunk', w.blocksPerChunk, 1, ternaryColsPadded(w.cols) / 256);
  if (w.data.length < lutWeightWords(w.rows, w.cols, rowsPerTile) || w.rowScales.length < w.rows) {
    throw new RangeError(`${fn}: w buffers are smaller than its rows, cols and rowsPerTile need`);
  }
  if (typeof a !== 'object' || a === null) throw new TypeError(`${fn}: a must be QuantizedActivations`);
  if (a.dot === 'llama.cpp') {
    throw new RangeError(
      `${fn}: activations with dot 'llama.cpp' need ternaryMatmul (llama.cpp's float order)`,
    );
  }
  if (a.mode !== 'per-token' && a.mode !== 'per-block-256') {
    throw new TypeError(`${fn}: a.mode must be 'per-token' or 'per-block-256', got ${String(a.mode)}`);
  }
  if (!(a.q instanceof Int8Array) || !(a.scales instanceof Float32Array)) {
    throw new TypeError(`${fn}: a must hold q: Int8Array and scales: Float32Array`);
  }
  if (a.cols !== w.cols || a.colsPadded !== w.colsPadded) {
    throw new RangeError(`${fn}: w has ${w.cols} cols, the activations ${a.cols}`);
  }
  checkInt(fn, 'rows', rows, 1, a.maxRows);
  const groups = a.mode === 'per-token' ? 1 : a.colsPadded / ACTIVATION_BLOCK;
  if (a.q.length < rows * a.colsPadded || a.scales.length < rows * groups) {
    throw new RangeError(`${fn}: activation buffers are smaller than rows x colsPadded`);
  }
  checkGemmOutput(fn, y, rows, w.rows);
  if (!(scratch instanceof Uint8Array))
    throw new TypeError(`${fn}: scratch must be a Uint8Array (allocLutScratch)`);
  const need = lutScratchBytes(w.cols, 1);
  if (scratch.length < need) {
    throw new RangeError(
      `${fn}: scratch holds ${scratch.length} bytes, at least ${need} (one activation row) are needed`,
    );
  }
  const mode = a.mode === 'per-token' ? 0 : 1;
  return [
    w.data,
    w.rowScales,
    w.rows,
    w.colsPadded,
    rowsPerTile,
    a.q,
    a.scales,
    mode,
    rows,
    y,
    scratch,
    w.blocksPerChunk,
  ];
}

/**
 * y (rows, w.rows) = X W^T with lookup tables; the same output contract as ternaryMatmul, bit for bit.
 * `scratch` (allocLutScratch) receives the activation tables; inside recordProgram() the call is recorded.
 */
export function lutMatmul(
  w: LutWeights,
  a: QuantizedActivations,
  rows: number,
  y: Float32Array,
  scratch: Uint8Array,
): void {
  n.lutMatmul(...matmulArgs('lutMatmul', w, a, rows, y, scratch));
}

/** lutMatmul on a libuv worker; do not touch w, a, y or scratch until the promise settles. */
export function lutMatmulAsync(...args: Parameters<typeof lutMatmul>): Promise<void> {
  return n.lutMatmulAsync(...matmulArgs('lutMatmulAsync', ...args));
}
