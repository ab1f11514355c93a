// Plain TypeScript references for the dense kernels: the test oracle, written independently of the C++.
// Float products are accumulated in double so the kernels' float32 error can be bounded against Σ|w·x|.

/** IEEE binary16 bits -> number, exact (NaN for any NaN pattern). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Random finite halves of magnitude about 2^-4 .. 2^2 (exponent 11..17), both signs. */
export function randomF16(length: number, rand: () => number): Uint16Array {
  const a = new Uint16Array(length); // (length) half bits
  for (let i = 0; i < length; i++) {
    const sign = rand() < 0.5 ? 0x8000 : 0;
    const exponent = 11 + Math.floor(rand() * 7);
    a[i] = sign | (exponent << 10) | Math.floor(rand() * 1024);
  }
  return a;
}

export const Q8_0_BLOCK_BYTES = 34;

/** Random GGUF Q8_0 rows: per 32 weights an fp16 d (about 2^-8 .. 2^-6) then 32 int8 in [-128, 127]. */
export function randomQ8_0(m: number, k: number, rand: () => number): Uint8Array {
  const blocks = k / 32;
  const bytes = new Uint8Array(m * blocks * Q8_0_BLOCK_BYTES); // (m, k/32) × block_q8_0
  const view = new DataView(bytes.buffer);
  for (let b = 0; b < m * blocks; b++) {
    const at = b * Q8_0_BLOCK_BYTES;
    const d = ((7 + Math.floor(rand() * 3)) << 10) | Math.floor(rand() * 1024);
    view.setUint16(at, d, true);
    for (let c = 0; c < 32; c++) bytes[at + 2 + c] = Math.floor(rand() * 256);
  }
  return bytes;
}

/** Weight (j, c) of a Q8_0 matrix: d · q. */
export function q8_0At(w: Uint8Array, k: number, j: number, c: number): number {
  const at = (j * (k / 32) + Math.floor(c / 32)) * Q8_0_BLOCK_BYTES;
  const d = f16ToF32(w[at]! | (w[at + 1]! << 8));
  const q = (w[at + 2 + (c % 32)]! << 24) >> 24;
  return d * q;
}

export interface MatmulReference {
  /** (n, m) exact-ish products (double accumulation). */
  y: Float64Array;
  /** (n, m) Σ|w·x|: the scale of float32 rounding error. */
  absSum: Float64Array;
}

export function matmulReference(
  weight: (j: number, c: number) => number,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
): MatmulReference {
  const y = new Float64Array(n * m); // (n, m)
  const absSum = new Float64Array(n * m); // (n, m)
  const row = new Float64Array(k); // (k)
  for (let j = 0; j < m; j++) {
    for (let c = 0; c < k; c++) row[c] = weight(j, c);
    for (let i = 0; i < n; i++) {
      let s = 0;
      let a = 0;
      for (let c = 0; c < k; c++) {
        const p = row[c]! * x[i * k + c]!;
        s += p;
        a += Math.abs(p);
      }
      y[i * m + j] = s;
      absSum[i * m + j] = a;
    }
  }
  return { y, absSum };
}

/** Largest |got - want| / ((k + 2) · 2^-24 · Σ|w·x|) over all outputs: ≤ 1 means within the stated bound. */
export function worstErrorRatio(got: Float32Array, ref: MatmulReference, k: number): number {
  let worst = 0;
  const unit = (k + 2) * 2 ** -24;
  for (let i = 0; i < ref.y.length; i++) {
    const err = Math.abs(got[i]! - ref.y[i]!);
    const bound = unit * ref.absSum[i]! + 1e-30;
    worst = Math.max(worst, err / bound);
  }
  return worst;
}

/** Round half to even, like the default x86 rounding mode (nearbyint / cvtps2dq). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const diff = v - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Absmax int8 row quantisation in float32 arithmetic: d = max|v|/127, q = clamp(rhe(v · (1/d)), ±127); NaN → -127. */
export function quantizeRowReference(
  values: ArrayLike<number>,
  k: number,
  q: Int8Array,
  offset: number,
): number {
  let amax = 0;
  for (let c = 0; c < k; c++) {
    const a = Math.abs(values[c]!);
    if (a > amax) amax = a; // NaN is skipped, like C fmax
  }
  const d = Math.fround(amax / 127);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  for (let c = 0; c < k; c++) {
    const r = Math.fround(values[c]! * id);
    q[offset + c] = Number.isNaN(r) ? -127 : Math.min(127, Math.max(-127, roundHalfEven(r)));
  }
  return d;
}

/** The exact result matmulI8 must produce (bit for bit). */
export function matmulI8Reference(
  w: Int8Array,
  wScales: Float32Array,
  x: Float32Array,
  n: number,
  m: number,
  k: number,
): Float32Array {
  const xq = new Int8Array(n * k); // (n, k)
  const xs = new Float32Array(n); // (n)
  for (let i = 0; i < n; i++) xs[i] = quantizeRowReference(x.subarray(i * k, (i + 1) * k), k, xq, i * k);
  const y = new Float32Array(n * m); // (n, m)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let sum = 0;
      for (let c = 0; c < k; c++) sum += w[j * k + c]! * xq[i * k + c]!;
      y[i * m + j] = Math.fround(Math.fround(sum) * Math.fround(wScales[j]! * xs[i]!));
    }
  }
  return y;
}
