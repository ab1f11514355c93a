/**
 * Dense matmuls Y (n, m) = X (n, k) · Wᵀ with W row-major (m rows of k), and embedding lookup.
 *
 * Weight formats: F32, F16 (IEEE half bits, e.g. a Uint16Array view into a memory-mapped GGUF file), GGUF
 * Q8_0 (blocks of 32 weights: fp16 scale d then 32 int8, 34 bytes), and a per-row absmax int8 copy made
 * with `quantizeRowsI8` (for the tied output matrix, half the bytes of F16 per generated token).
 *
 * Accuracy: float variants (generic, AVX2, AVX-512) differ only in summation order, so each output is within
 * the recursive-summation bound (k + 2) · 2⁻²⁴ · Σ|w·x| of the exact product (for Q8_0 the +2 covers d · q);
 * typical errors are ~√k times smaller. `matmulI8` and `quantizeRowsI8` are bit-exact across ISA levels.
 *
 * Every `…Async` variant runs on a libuv thread and rejects with the same TypeError/RangeError the sync call
 * throws; keep its buffers untouched until the promise settles.
 */
import { checkArray, checkCount, checkInt, clearStatus } from './args.js';
import { native } from './native.js';

/** Weights per GGUF Q8_0 block. */
export const Q8_0_BLOCK_ELEMS = 32;
/** Bytes per GGUF Q8_0 block (fp16 scale + 32 int8). */
export const Q8_0_BLOCK_BYTES = 34;
/** Largest k the int8 kernels accept (int32 dot products of values in ±127 cannot overflow). */
export const MATMUL_I8_MAX_K = 1 << 17;

export type DenseWeightKind = 'f32' | 'f16';
export type EmbeddingKind = 'f32' | 'f16' | 'q8_0';

type Call = (...args: unknown[]) => void;
type AsyncCall = (...args: unknown[]) => Promise<void>;
interface DenseNative {
  matmulF32: Call;
  matmulF32Async: AsyncCall;
  matmulF16: Call;
  matmulF16Async: AsyncCall;
  matmulQ8_0: Call;
  matmulQ8_0Async: AsyncCall;
  matmulI8: Call;
  matmulI8Async: AsyncCall;
  quantizeRowsI8: Call;
  quantizeRowsI8Async: AsyncCall;
  matmulI8ScratchBytes(n: number, k: number): number;
  embeddingGather: Call;
  embeddingGatherAsync: AsyncCall;
}
const n_ = native as unknown as DenseNative;

// The n, m, k of a matmul; k is at most `maxK` (the int8 kernels' bound).
function checkDims(fn: string, n: number, m: number, k: number, maxK = 2 ** 31): void {
  checkCount(fn, 'n', n);
  checkCount(fn, 'm', m);
  checkInt(fn, 'k', k, 1, maxK);
}

// A (rows, cols) matrix stored as `kind`: f32, f16 bits, or Q8_0 blocks (cols a multiple of 32). Shared by
// the matmul weights and the embedding table; `colsName` names cols in the Q8_0 error.
function checkMatrix(
  fn: string,
  name: string,
  value: unknown,
  kind: EmbeddingKind,
  rows: number,
  cols: number,
  colsName: string,
): void {
  if (kind === 'f32') checkArray(fn, name, value, Float32Array, rows * cols);
  else if (kind === 'f16') checkArray(fn, name, value, Uint16Array, rows * cols);
  else if (kind === 'q8_0') {
    if (cols % Q8_0_BLOCK_ELEMS !== 0) {
      throw new RangeError(
        `${fn}: ${colsName} must be a multiple of ${Q8_0_BLOCK_ELEMS} for Q8_0, got ${cols}`,
      );
    }
    checkArray(fn, name, value, Uint8Array, q8_0Bytes(rows, cols));
  } else throw new TypeError(`${fn}: kind must be 'f32', 'f16' or 'q8_0', got ${String(kind)}`);
}

// matmulF32, matmulF16, matmulQ8_0, sync and Async: the weight format decides only w's type and length.
function checkMatmul(
  fn: string,
  weights: EmbeddingKind,
  w: unknown,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): void {
  checkDims(fn, n, m, k);
  checkMatrix(fn, 'w', w, weights, m, k, 'k');
  checkArray(fn, 'x', x, Float32Array, n * k);
  checkArray(fn, 'y', y, Float32Array, n * m);
}

/**
 * y (n, m) = x (n, k) · wᵀ, w: F32.
 *
 * @param w (m, k)
 * @param x (n, k)
 * @param y (n, m)
 */
export function matmulF32(
  w: Float32Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): void {
  checkMatmul('matmulF32', 'f32', w, x, n, m, k, y);
  n_.matmulF32(w, x, n, m, k, y);
}

/** `matmulF32` on a libuv thread (keep the buffers untouched until the promise settles). */
export async function matmulF32Async(...args: Parameters<typeof matmulF32>): Promise<void> {
  checkMatmul('matmulF32Async', 'f32', ...args);
  return n_.matmulF32Async(...args);
}

/**
 * y (n, m) = x (n, k) · wᵀ, w: F16 bits.
 *
 * @param w (m, k) IEEE half bits
 * @param x (n, k)
 * @param y (n, m)
 */
export function matmulF16(
  w: Uint16Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): void {
  checkMatmul('matmulF16', 'f16', w, x, n, m, k, y);
  n_.matmulF16(w, x, n, m, k, y);
}

/** `matmulF16` on a libuv thread. */
export async function matmulF16Async(...args: Parameters<typeof matmulF16>): Promise<void> {
  checkMatmul('matmulF16Async', 'f16', ...args);
  return n_.matmulF16Async(...args);
}

/** Bytes of an (m, k) GGUF Q8_0 matrix. */
export function q8_0Bytes(m: number, k: number): number {
  return m * (k / Q8_0_BLOCK_ELEMS) * Q8_0_BLOCK_BYTES;
}

/**
 * y (n, m) = x (n, k) · wᵀ, w: GGUF Q8_0; k must be a multiple of 32.
 *
 * @param w (m, k / 32) blocks of 34 bytes: `q8_0Bytes(m, k)` bytes, any alignment
 * @param x (n, k)
 * @param y (n, m)
 */
export function matmulQ8_0(
  w: Uint8Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): void {
  checkMatmul('matmulQ8_0', 'q8_0', w, x, n, m, k, y);
  n_.matmulQ8_0(w, x, n, m, k, y);
}

/** `matmulQ8_0` on a libuv thread. */
export async function matmulQ8_0Async(...args: Parameters<typeof matmulQ8_0>): Promise<void> {
  checkMatmul('matmulQ8_0Async', 'q8_0', ...args);
  return n_.matmulQ8_0Async(...args);
}

function checkQuantize(
  fn: string,
  w: unknown,
  kind: DenseWeightKind,
  m: number,
  k: number,
  out: Int8Array,
  scales: Float32Array,
): void {
  if (kind !== 'f32' && kind !== 'f16')
    throw new TypeError(`${fn}: kind must be 'f32' or 'f16', got ${String(kind)}`);
  checkCount(fn, 'm', m);
  checkInt(fn, 'k', k, 1, MATMUL_I8_MAX_K);
  checkMatrix(fn, 'w', w, kind, m, k, 'k');
  checkArray(fn, 'out', out, Int8Array, m * k);
  checkArray(fn, 'scales', scales, Float32Array, m);
}

/**
 * Per-row absmax int8 copy of a dense (m, k) matrix: scales[j] = max|w_j| / 127,
 * out[j, c] = clamp(roundHalfEven(w[j, c] · (1 / scales[j])), ±127) in float arithmetic. Multithreaded.
 *
 * @param w (m, k) f32, or f16 bits with kind 'f16'
 * @param out (m, k)
 * @param scales (m)
 */
export function quantizeRowsI8(
  w: Float32Array | Uint16Array,
  kind: DenseWeightKind,
  m: number,
  k: number,
  out: Int8Array,
  scales: Float32Array,
): void {
  checkQuantize('quantizeRowsI8', w, kind, m, k, out, scales);
  n_.quantizeRowsI8(w, kind, m, k, out, scales);
}

/** `quantizeRowsI8` off the JS thread (a model-sized matrix takes a noticeable fraction of a second). */
export async function quantizeRowsI8Async(...args: Parameters<typeof quantizeRowsI8>): Promise<void> {
  checkQuantize('quantizeRowsI8Async', ...args);
  return n_.quantizeRowsI8Async(...args);
}

/** Bytes of the scratch `matmulI8` needs for n activation rows of k (int8 rows plus one scale per row). */
export function matmulI8ScratchBytes(n: number, k: number): number {
  checkCount('matmulI8ScratchBytes', 'n', n);
  checkInt('matmulI8ScratchBytes', 'k', k, 1, MATMUL_I8_MAX_K);
  return n_.matmulI8ScratchBytes(n, k);
}

function checkI8(
  fn: string,
  w: Int8Array,
  wScales: Float32Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
  scratch: Int8Array,
): void {
  checkDims(fn, n, m, k, MATMUL_I8_MAX_K);
  checkArray(fn, 'w', w, Int8Array, m * k);
  checkArray(fn, 'x', x, Float32Array, n * k);
  checkArray(fn, 'y', y, Float32Array, n * m);
  checkArray(fn, 'wScales', wScales, Float32Array, m);
  checkArray(fn, 'scratch', scratch, Int8Array, n_.matmulI8ScratchBytes(n, k));
}

/**
 * y (n, m) = x (n, k) · wᵀ with w an int8 copy from `quantizeRowsI8`. Each x row is quantised to int8 (absmax,
 * same rule) into `scratch`, dot products are exact int32, and y = dot · (wScales[j] · xScale[i]). Bit-exact
 * across ISA levels. Against the float product the error is at most hx·Σ|w_j| + hw·Σ|x_i| + k·hx·hw, with
 * hx = max|x_i|/254 and hw = max|w_j|/254 (half a quantisation step).
 *
 * @param w (m, k) int8
 * @param wScales (m)
 * @param x (n, k)
 * @param y (n, m)
 * @param scratch (`matmulI8ScratchBytes(n, k)`) bytes
 */
export function matmulI8(
  w: Int8Array,
  wScales: Float32Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
  scratch: Int8Array,
): void {
  checkI8('matmulI8', w, wScales, x, n, m, k, y, scratch);
  n_.matmulI8(w, wScales, x, n, m, k, y, scratch);
}

/** `matmulI8` on a libuv thread. */
export async function matmulI8Async(...args: Parameters<typeof matmulI8>): Promise<void> {
  checkI8('matmulI8Async', ...args);
  return n_.matmulI8Async(...args);
}

function checkEmbedding(
  fn: string,
  table: unknown,
  kind: EmbeddingKind,
  rows: number,
  dim: number,
  tokens: Int32Array,
  n: number,
  out: Float32Array,
): void {
  checkCount(fn, 'rows', rows);
  checkCount(fn, 'dim', dim);
  checkCount(fn, 'n', n);
  checkMatrix(fn, 'table', table, kind, rows, dim, 'dim');
  checkArray(fn, 'tokens', tokens, Int32Array, n);
  checkArray(fn, 'out', out, Float32Array, n * dim);
}

function throwIfOutOfRange(fn: string, status: Int32Array, tokens: Int32Array, rows: number): void {
  const bad = status[0] ?? 0;
  if (bad === 0) return;
  const at = status[1] ?? 0;
  throw new RangeError(
    `${fn}: ${bad} token id(s) outside [0, ${rows}), first tokens[${at}] = ${tokens[at]}; their rows were zero-filled`,
  );
}

// Status for direct calls; a recorded call keeps whichever buffer it was given.
const directStatus = new Int32Array(2);

/**
 * out (n, dim) = table rows tokens[0..n) widened to f32. Token ids are read when the kernel runs (a recorded
 * Program sees each replay's ids). An id outside [0, rows) never reads the table: its out row is zero-filled,
 * and `status` (Int32Array(2), optional) receives [out-of-range count, first bad position or -1]. A direct
 * call then throws RangeError (after writing every valid row); inside `recordProgram` nothing runs at record
 * time, so pass `status` and check it after each replay.
 *
 * @param table (rows, dim) f32, f16 bits, or Q8_0 blocks (`q8_0Bytes(rows, dim)` bytes) as `kind` says
 * @param tokens (n) read when the kernel runs
 * @param out (n, dim)
 * @param status optional (2)
 */
export function embeddingGather(
  table: Float32Array | Uint16Array | Uint8Array,
  kind: EmbeddingKind,
  rows: number,
  dim: number,
  tokens: Int32Array,
  n: number,
  out: Float32Array,
  status?: Int32Array,
): void {
  const fn = 'embeddingGather';
  checkEmbedding(fn, table, kind, rows, dim, tokens, n, out);
  const s = clearStatus(fn, status ?? directStatus);
  n_.embeddingGather(table, kind, rows, dim, tokens, n, out, s);
  throwIfOutOfRange(fn, s, tokens, rows);
}

/** `embeddingGather` on a libuv thread; rejects with the RangeError the sync call would throw. */
export async function embeddingGatherAsync(...args: Parameters<typeof embeddingGather>): Promise<void> {
  const [table, kind, rows, dim, tokens, n, out, status] = args;
  const fn = 'embeddingGatherAsync';
  checkEmbedding(fn, table, kind, rows, dim, tokens, n, out);
  const s = clearStatus(fn, status);
  await n_.embeddingGatherAsync(table, kind, rows, dim, tokens, n, out, s);
  throwIfOutOfRange(fn, s, tokens, rows);
}
