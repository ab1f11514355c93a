/**
 * Float32 elementwise and normalisation ops, computed like llama.cpp's CPU ops so logits line up.
 *
 * `out` may be the input itself (in place) or a separate array; a partially overlapping view is refused.
 * add, scale and relu2Mul are bit-exact on every ISA level; rmsNorm sums squares in double (results equal
 * or 1 ulp apart across levels); softmax and siluMul use a polynomial exp on AVX2/AVX-512, within a few ulp
 * of libm's expf. rope is the same code on every level.
 */
import { checkArray, checkCount, checkFinite, checkInt } from './args.js';
import { native } from './native.js';

type Call = (...args: unknown[]) => void;
interface OpsNative {
  rmsNorm: Call;
  softmax: Call;
  siluMul: Call;
  relu2Mul: Call;
  add: Call;
  scale: Call;
  rope: Call;
  ropeTable: Call;
  logitsStats: Call;
  roundToF16: Call;
}
const n_ = native as unknown as OpsNative;

/** Largest ropeDim (rope keeps one row of cos/sin per token on the native stack). */
export const ROPE_MAX_DIM = 4096;

function checkF32(fn: string, name: string, value: unknown, minLength: number): void {
  checkArray(fn, name, value, Float32Array, minLength);
}

/**
 * out (n, d) = x / sqrt(mean(x²) + eps) · weight (d), per row (ggml_rms_norm then ggml_mul: squares summed
 * in double, mean and scale in float).
 */
export function rmsNorm(
  x: Float32Array,
  weight: Float32Array,
  n: number,
  d: number,
  eps: number,
  out: Float32Array,
): void {
  checkCount('rmsNorm', 'n', n);
  checkCount('rmsNorm', 'd', d);
  checkFinite('rmsNorm', 'eps', eps);
  if (eps < 0) throw new RangeError(`rmsNorm: eps must be >= 0, got ${eps}`);
  checkF32('rmsNorm', 'x', x, n * d);
  checkF32('rmsNorm', 'weight', weight, d);
  checkF32('rmsNorm', 'out', out, n * d);
  n_.rmsNorm(x, weight, n, d, eps, out);
}

/** Each row of x (n, d) replaced by its softmax (max-subtracted, sum in double). */
export function softmax(x: Float32Array, n: number, d: number): void {
  checkCount('softmax', 'n', n);
  checkCount('softmax', 'd', d);
  checkF32('softmax', 'x', x, n * d);
  n_.softmax(x, n, d);
}

// The elementwise ops below: both inputs and `out` are (count).
function binary(name: keyof OpsNative, aName: string, bName: string) {
  return (a: Float32Array, b: Float32Array, out: Float32Array, count: number): void => {
    checkCount(name, 'count', count);
    checkF32(name, aName, a, count);
    checkF32(name, bName, b, count);
    checkF32(name, 'out', out, count);
    n_[name](a, b, out, count);
  };
}

/** out[i] = silu(gate[i]) · up[i], silu(g) = g / (1 + e^-g) (the SwiGLU feed-forward). */
export const siluMul: (gate: Float32Array, up: Float32Array, out: Float32Array, count: number) => void =
  binary('siluMul', 'gate', 'up');

/** out[i] = max(gate[i], 0)² · up[i] (BitNet b1.58's squared-ReLU GLU); a NaN gate counts as 0. */
export const relu2Mul: (gate: Float32Array, up: Float32Array, out: Float32Array, count: number) => void =
  binary('relu2Mul', 'gate', 'up');

/** out[i] = a[i] + b[i] (residual connections). */
export const add: (a: Float32Array, b: Float32Array, out: Float32Array, count: number) => void = binary(
  'add',
  'a',
  'b',
);

/** x[i] *= s, with s rounded to float32. */
export function scale(x: Float32Array, s: number, count: number): void {
  checkCount('scale', 'count', count);
  checkFinite('scale', 's', s);
  checkF32('scale', 'x', x, count);
  n_.scale(x, s, count);
}

function checkRopeShape(fn: string, n: number, ropeDim: number, maxDim: number, freqBase: number): void {
  checkCount(fn, 'n', n);
  checkInt(fn, 'ropeDim', ropeDim, 2, Math.min(maxDim, ROPE_MAX_DIM));
  if (ropeDim % 2 !== 0) throw new RangeError(`${fn}: ropeDim must be even, got ${ropeDim}`);
  checkFinite(fn, 'freqBase', freqBase);
  if (freqBase <= 0) throw new RangeError(`${fn}: freqBase must be > 0, got ${freqBase}`);
}

/**
 * Rotary position embedding in place on x (n, nHeads, headDim) at positions (n), the way ggml-cpu's rope
 * computes it: theta_i = pos · base^(−2i/ropeDim) built by repeated float multiplication, cosf/sinf.
 * `neox` false rotates pairs (2i, 2i+1), true rotates (i, i + ropeDim/2); dimensions past ropeDim are kept.
 * Positions are read when the kernel runs, so a recorded Program follows new positions on each replay.
 * `table` (optional): ropeTable's rows for the same positions, n, ropeDim and freqBase, read instead of
 * computing the cos/sin again — a forward pass makes it once and every layer's q and k share it.
 */
export function rope(
  x: Float32Array,
  positions: Int32Array,
  n: number,
  nHeads: number,
  headDim: number,
  ropeDim: number,
  freqBase: number,
  neox: boolean,
  table?: Float32Array,
): void {
  checkCount('rope', 'nHeads', nHeads);
  checkCount('rope', 'headDim', headDim);
  checkRopeShape('rope', n, ropeDim, headDim, freqBase);
  if (typeof neox !== 'boolean') throw new TypeError(`rope: neox must be a boolean, got ${String(neox)}`);
  checkF32('rope', 'x', x, n * nHeads * headDim);
  checkArray('rope', 'positions', positions, Int32Array, n);
  if (table !== undefined) checkF32('rope', 'table', table, n * ropeDim);
  n_.rope(x, positions, n, nHeads, headDim, ropeDim, freqBase, neox, table);
}

/**
 * table (n, ropeDim) = the (cos, sin) pair of every rotated dimension pair at positions (n), exactly as rope
 * computes them, for rope's `table` argument. Positions are read when the kernel runs (recordable).
 */
export function ropeTable(
  positions: Int32Array,
  n: number,
  ropeDim: number,
  freqBase: number,
  table: Float32Array,
): void {
  checkRopeShape('ropeTable', n, ropeDim, ROPE_MAX_DIM, freqBase);
  checkArray('ropeTable', 'positions', positions, Int32Array, n);
  checkF32('ropeTable', 'table', table, n * ropeDim);
  n_.ropeTable(positions, n, ropeDim, freqBase, table);
}

/**
 * One row of logits for a sampler: out[0] = index of the first largest entry of x[offset, offset + d) (NaN
 * never wins; 0 if every entry is -Infinity or NaN), out[1] = that value, out[2] = log Σ exp(x) (computed as
 * max + log Σ exp(x − max) with the sum in double; ±Infinity when the max is, NaN if any entry is NaN; NaN
 * when `withLogSumExp` is false, which skips that pass over the row).
 * Vectorised on AVX-512 (a 128k-entry row in ~20 µs); argmax and max are exact on every level.
 */
export function logitsStats(
  x: Float32Array,
  offset: number,
  d: number,
  out: Float64Array,
  withLogSumExp = true,
): void {
  checkInt('logitsStats', 'offset', offset, 0, Number.MAX_SAFE_INTEGER);
  checkCount('logitsStats', 'd', d);
  checkF32('logitsStats', 'x', x, offset + d);
  checkArray('logitsStats', 'out', out, Float64Array, 3);
  if (typeof withLogSumExp !== 'boolean') throw new TypeError('logitsStats: withLogSumExp must be a boolean');
  n_.logitsStats(x, offset, d, out, withLogSumExp);
}

/**
 * x[0, count) = f32(f16(x)) in place (round to nearest even; overflow to ±Infinity, NaN stays NaN): the
 * rounding llama.cpp's CPU path applies where it multiplies f32 activations by f16 matrices.
 */
export function roundToF16(x: Float32Array, count: number): void {
  checkCount('roundToF16', 'count', count);
  checkF32('roundToF16', 'x', x, count);
  n_.roundToF16(x, count);
}
