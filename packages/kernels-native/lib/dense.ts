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

type ArrayCtor = { name: string; new (...args: never[]): ArrayBufferView };

function checkArray(fn: string, name: string, value: unknown, ctor: ArrayCtor, minLength: number): void {
  if (!(value instanceof ctor)) throw new TypeError(`${fn}: ${name} must be a ${ctor.name}`);
  const length = (value as unknown as { length: number }).length;
  if (length < minLength) {
    const hint =
      length === 0 && (value as ArrayBufferView).buffer.byteLength === 0 ? ' (detached or transferred?)' : '';
    throw new RangeError(`${fn}: ${name} has ${length} elements${hint}, at least ${minLength} are needed`);
  }
}

function checkDim(fn: string, name: string, value: unknown, max = 2 ** 31): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${fn}: ${name} must be an integer, got ${String(value)}`);
  }
  if (value < 1 || value > max) throw new RangeError(`${fn}: ${name} must be in [1, ${max}], got ${value}`);
}

function checkDims(fn: string, n: number, m: number, k: number, maxK = 2 ** 31): void {
  checkDim(fn, 'n', n);
  checkDim(fn, 'm', m);
  checkDim(fn, 'k', k, maxK);
}

function checkQ8K(fn: string, name: string, k: number): void {
  if (k % Q8_0_BLOCK_ELEMS !== 0) {
    throw new RangeError(`${fn}: ${name} must be a multiple of ${Q8_0_BLOCK_ELEMS} for Q8_0, got ${k}`);
  }
}

function checkMatmul(
  fn: string,
  w: unknown,
  wCtor: ArrayCtor,
  wLength: number,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): void {
  checkArray(fn, 'w', w, wCtor, wLength);
  checkArray(fn, 'x', x, Float32Array, n * k);
  checkArray(fn, 'y', y, Float32Array, n * m);
}

/** y (n, m) = x (n, k) · wᵀ, w: F32 (m, k). */
export function matmulF32(
  w: Float32Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): void {
  checkDims('matmulF32', n, m, k);
  checkMatmul('matmulF32', w, Float32Array, m * k, x, n, m, k, y);
  n_.matmulF32(w, x, n, m, k, y);
}

/** `matmulF32` on a libuv thread (keep the buffers untouched until the promise settles). */
export async function matmulF32Async(
  w: Float32Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): Promise<void> {
  checkDims('matmulF32Async', n, m, k);
  checkMatmul('matmulF32Async', w, Float32Array, m * k, x, n, m, k, y);
  return n_.matmulF32Async(w, x, n, m, k, y);
}

/** y (n, m) = x (n, k) · wᵀ, w: F16 bits (m, k). */
export function matmulF16(
  w: Uint16Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): void {
  checkDims('matmulF16', n, m, k);
  checkMatmul('matmulF16', w, Uint16Array, m * k, x, n, m, k, y);
  n_.matmulF16(w, x, n, m, k, y);
}

export async function matmulF16Async(
  w: Uint16Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): Promise<void> {
  checkDims('matmulF16Async', n, m, k);
  checkMatmul('matmulF16Async', w, Uint16Array, m * k, x, n, m, k, y);
  return n_.matmulF16Async(w, x, n, m, k, y);
}

/** Bytes of an (m, k) GGUF Q8_0 matrix. */
export function q8_0Bytes(m: number, k: number): number {
  return m * (k / Q8_0_BLOCK_ELEMS) * Q8_0_BLOCK_BYTES;
}

/** y (n, m) = x (n, k) · wᵀ, w: GGUF Q8_0 (m rows of k/32 blocks); k must be a multiple of 32. */
export function matmulQ8_0(
  w: Uint8Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): void {
  checkDims('matmulQ8_0', n, m, k);
  checkQ8K('matmulQ8_0', 'k', k);
  checkMatmul('matmulQ8_0', w, Uint8Array, q8_0Bytes(m, k), x, n, m, k, y);
  n_.matmulQ8_0(w, x, n, m, k, y);
}

export async function matmulQ8_0Async(
  w: Uint8Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
): Promise<void> {
  checkDims('matmulQ8_0Async', n, m, k);
  checkQ8K('matmulQ8_0Async', 'k', k);
  checkMatmul('matmulQ8_0Async', w, Uint8Array, q8_0Bytes(m, k), x, n, m, k, y);
  return n_.matmulQ8_0Async(w, x, n, m, k, y);
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
  checkDim(fn, 'm', m);
  checkDim(fn, 'k', k, MATMUL_I8_MAX_K);
  checkArray(fn, 'w', w, kind === 'f32' ? Float32Array : Uint16Array, m * k);
  checkArray(fn, 'out', out, Int8Array, m * k);
  checkArray(fn, 'scales', scales, Float32Array, m);
}

/**
 * Per-row absmax int8 copy of a dense (m, k) matrix: scales[j] = max|w_j| / 127,
 * out[j, c] = clamp(roundHalfEven(w[j, c] · (1 / scales[j])), ±127) in float arithmetic. Multithreaded.
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
export async function quantizeRowsI8Async(
  w: Float32Array | Uint16Array,
  kind: DenseWeightKind,
  m: number,
  k: number,
  out: Int8Array,
  scales: Float32Array,
): Promise<void> {
  checkQuantize('quantizeRowsI8Async', w, kind, m, k, out, scales);
  return n_.quantizeRowsI8Async(w, kind, m, k, out, scales);
}

/** Bytes of the scratch `matmulI8` needs for n activation rows of k (int8 rows plus one scale per row). */
export function matmulI8ScratchBytes(n: number, k: number): number {
  checkDim('matmulI8ScratchBytes', 'n', n);
  checkDim('matmulI8ScratchBytes', 'k', k, MATMUL_I8_MAX_K);
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
  checkMatmul(fn, w, Int8Array, m * k, x, n, m, k, y);
  checkArray(fn, 'wScales', wScales, Float32Array, m);
  checkArray(fn, 'scratch', scratch, Int8Array, n_.matmulI8ScratchBytes(n, k));
}

/**
 * y (n, m) = x (n, k) · wᵀ with w an int8 copy from `quantizeRowsI8`. Each x row is quantised to int8 (absmax,
 * same rule) into `scratch` (Int8Array of `matmulI8ScratchBytes(n, k)`), dot products are exact int32, and
 * y = dot · (wScales[j] · xScale[i]). Bit-exact across ISA levels. Against the float product the error is at
 * most hx·Σ|w_j| + hw·Σ|x_i| + k·hx·hw, with hx = max|x_i|/254 and hw = max|w_j|/254 (half a quantisation step).
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

export async function matmulI8Async(
  w: Int8Array,
  wScales: Float32Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
  y: Float32Array,
  scratch: Int8Array,
): Promise<void> {
  checkI8('matmulI8Async', w, wScales, x, n, m, k, y, scratch);
  return n_.matmulI8Async(w, wScales, x, n, m, k, y, scratch);
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
  status: Int32Array | undefined,
): void {
  checkDim(fn, 'rows', rows);
  checkDim(fn, 'dim', dim);
  checkDim(fn, 'n', n);
  if (kind === 'f32') checkArray(fn, 'table', table, Float32Array, rows * dim);
  else if (kind === 'f16') checkArray(fn, 'table', table, Uint16Array, rows * dim);
  else if (kind === 'q8_0') {
    checkQ8K(fn, 'dim', dim);
    checkArray(fn, 'table', table, Uint8Array, q8_0Bytes(rows, dim));
  } else throw new TypeError(`${fn}: kind must be 'f32', 'f16' or 'q8_0', got ${String(kind)}`);
  checkArray(fn, 'tokens', tokens, Int32Array, n);
  checkArray(fn, 'out', out, Float32Array, n * dim);
  if (status !== undefined) checkArray(fn, 'status', status, Int32Array, 2);
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
  checkEmbedding('embeddingGather', table, kind, rows, dim, tokens, n, out, status);
  const s = status ?? directStatus;
  s[0] = 0;
  s[1] = -1;
  n_.embeddingGather(table, kind, rows, dim, tokens, n, out, s);
  throwIfOutOfRange('embeddingGather', s, tokens, rows);
}

export async function embeddingGatherAsync(
  table: Float32Array | Uint16Array | Uint8Array,
  kind: EmbeddingKind,
  rows: number,
  dim: number,
  tokens: Int32Array,
  n: number,
  out: Float32Array,
  status?: Int32Array,
): Promise<void> {
  checkEmbedding('embeddingGatherAsync', table, kind, rows, dim, tokens, n, out, status);
  const s = status ?? new Int32Array(2);
  s[0] = 0;
  s[1] = -1;
  await n_.embeddingGatherAsync(table, kind, rows, dim, tokens, n, out, s);
  throwIfOutOfRange('embeddingGatherAsync', s, tokens, rows);
}
