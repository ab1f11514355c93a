// Plain TypeScript references for the ternary formats, activation quantizers and GEMM, written from the
// llama.cpp / bitnet.cpp sources (not from our C++), so the tests compare two independent implementations.

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
const u32 = new Uint32Array(f32.buffer);

/** ggml's nearest_int: adds 1.5 * 2^23 in float32 and reads the mantissa (round half to even). */
export function nearestInt(x: number): number {
  f32[0] = Math.fround(x) + 12582912;
  return (i32[0]! & 0x007fffff) - 0x00400000;
}

/** IEEE half -> float. */
export function fp16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0x1f) return man ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  if (exp === 0) return sign * man * 2 ** -24;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** float -> IEEE half, round to nearest even (finite inputs). */
export function f32ToFp16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const a = Math.abs(f32[0]!);
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // subnormal: units of 2^-24, round half to even
    const q = a / 2 ** -24;
    let r = Math.floor(q);
    const frac = q - r;
    if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
    return sign | r;
  }
  const e = Math.floor(Math.log2(a));
  const exp = a >= 2 ** (e + 1) ? e + 1 : a < 2 ** e ? e - 1 : e;
  const m = a / 2 ** exp - 1; // [0, 1)
  const q = m * 1024;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  return sign | (((exp + 15) << 10) + r);
}

// --- writers, ported from llama.cpp quantize_row_tq{1,2}_0_ref and bitnet.cpp quantize_i2_s (float input) ---

function lroundf(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x)); // half away from zero
}

/** llama.cpp quantize_row_tq2_0_ref over float weights x (length multiple of 256). */
export function quantizeTq2Ref(x: Float32Array): Uint8Array {
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 66);
  for (let i = 0; i < nb; i++) {
    const xb = x.subarray(i * 256, i * 256 + 256);
    let amax = 0;
    for (const v of xb) amax = Math.max(amax, Math.abs(v));
    const d = amax;
    const id = d ? Math.fround(1 / d) : 0;
    const o = i * 66;
    for (let j = 0; j < 64; j += 32) {
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 4; n++) {
          const xi = lroundf(Math.fround(xb[(j / 32) * 128 + m + n * 32]! * id)) + 1;
          q += (xi & 3) << (2 * n);
        }
        out[o + j + m] = q;
      }
    }
    const h = f32ToFp16(d);
    out[o + 64] = h & 0xff;
    out[o + 65] = h >> 8;
  }
  return out;
}

/** llama.cpp quantize_row_tq1_0_ref over float weights x (length multiple of 256). */
export function quantizeTq1Ref(x: Float32Array): Uint8Array {
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 54);
  const pack = (q: number) => Math.floor(((q & 0xff) * 256 + 242) / 243) & 0xff;
  for (let i = 0; i < nb; i++) {
    const xb = x.subarray(i * 256, i * 256 + 256);
    let amax = 0;
    for (const v of xb) amax = Math.max(amax, Math.abs(v));
    const id = amax ? Math.fround(1 / amax) : 0;
    const code = (k: number) => lroundf(Math.fround(xb[k]! * id)) + 1;
    const o = i * 54;
    let base = 0;
    for (let m = 0; m < 32; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = q * 3 + code(base + m + n * 32);
      out[o + m] = pack(q);
    }
    base += 160;
    for (let m = 0; m < 16; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = q * 3 + code(base + m + n * 16);
      out[o + 32 + m] = pack(q);
    }
    base += 80;
    for (let j = 0; j < 4; j++) {
      let q = 0;
      for (let m = 0; m < 4; m++) q = q * 3 + code(base + j + m * 4);
      out[o + 48 + j] = pack(q * 3);
    }
    const h = f32ToFp16(amax);
    out[o + 52] = h & 0xff;
    out[o + 53] = h >> 8;
  }
  return out;
}

/** bitnet.cpp quantize_i2_s (x86, QK_I2_S = 128) over float weights; padding after the scale left zero. */
export function quantizeI2sRef(x: Float32Array): Uint8Array {
  const n = x.length;
  const out = new Uint8Array(n / 4 + 32);
  let max = 0;
  for (const v of x) max = Math.max(max, Math.abs(v));
  for (let i = 0; i < n / 128; i++) {
    for (let j = 0; j < 128; j++) {
      const v = x[i * 128 + j]!;
      const q = Math.abs(v) < 1e-6 ? 1 : v * max > 0 ? 2 : 0;
      out[i * 32 + (j % 32)]! |= q << (6 - 2 * Math.floor(j / 32));
    }
  }
  new DataView(out.buffer).setFloat32(n / 4, max, true);
  return out;
}

// --- activation quantizers ---

/** bitnet.cpp quantize_row_i8_s; returns the DEQUANT scale 1/s as stored by quantizeActivations. */
/** bitnet.cpp quantize_row_i8_s: MAX(max, |x|) drops a NaN (Math.max would keep it), float scale 127 / max. */
export function quantizePerTokenRef(x: ArrayLike<number>, colsPadded: number) {
  let max = 0.00001;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    // biome-ignore lint/complexity/useMathMinMax: Math.max keeps a NaN, bitnet.cpp's MAX drops it
    max = max > a ? max : a;
  }
  const s = Math.fround(127 / max);
  const q = new Int8Array(colsPadded); // (colsPadded)
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.min(127, Math.max(-128, nearestInt(Math.fround(x[i]! * s))));
    q[i] = v;
    sum += v;
  }
  return { q, scale: Math.fround(1 / s), sum };
}

/** llama.cpp quantize_row_q8_K_ref on one 256-group (zero padded). */
export function quantizeQ8KBlockRef(x: ArrayLike<number>) {
  let max = 0;
  let amax = 0;
  for (let j = 0; j < x.length; j++) {
    const ax = Math.abs(x[j]!);
    if (ax > amax) {
      amax = ax;
      max = x[j]!;
    }
  }
  const q = new Int8Array(256);
  if (!amax) return { q, d: 0, sum: 0 };
  const iscale = Math.fround(-127 / max);
  let sum = 0;
  for (let j = 0; j < 256; j++) {
    const v = Math.min(127, nearestInt(Math.fround(iscale * (j < x.length ? x[j]! : 0))));
    q[j] = v;
    sum += v;
  }
  return { q, d: Math.fround(1 / iscale), sum };
}

// --- packed layout and GEMM ---

/** The runtime layout from plain values (rows, cols). */
export function packRef(values: Int8Array, rows: number, cols: number): Uint8Array {
  const kp = Math.ceil(cols / 256) * 256;
  const out = new Uint8Array((rows * kp) / 4);
  for (let m = 0; m < rows; m++) {
    for (let k = 0; k < kp; k++) {
      const code = k < cols ? values[m * cols + k]! + 1 : 1;
      const b = Math.floor(k / 256);
      const r = k % 256;
      out[m * (kp / 4) + b * 64 + (r % 64)]! |= code << (2 * Math.floor(r / 64));
    }
  }
  return out;
}

export interface RefActivations {
  colsPadded: number;
  q: Int8Array; // (N, colsPadded)
  scales: Float32Array; // (N, groups)
  perBlock: boolean;
}

/** y (N, M) from plain weights (M, K) and quantized activations, in the kernels' float32 order. */
export function matmulRef(
  w: Int8Array,
  wScales: Float32Array,
  m: number,
  k: number,
  a: RefActivations,
  n: number,
): Float32Array {
  const y = new Float32Array(n * m);
  const groups = a.colsPadded / 256;
  for (let r = 0; r < n; r++) {
    const q = a.q.subarray(r * a.colsPadded);
    for (let c = 0; c < m; c++) {
      const wr = w.subarray(c * k, c * k + k);
      if (a.perBlock) {
        let acc = 0;
        for (let b = 0; b < groups; b++) {
          let isum = 0;
          for (let j = b * 256; j < Math.min(k, b * 256 + 256); j++) isum += wr[j]! * q[j]!;
          acc = Math.fround(acc + Math.fround(Math.fround(isum) * a.scales[r * groups + b]!));
        }
        y[r * m + c] = Math.fround(acc * wScales[c]!);
      } else {
        let isum = 0;
        for (let j = 0; j < k; j++) isum += wr[j]! * q[j]!;
        y[r * m + c] = Math.fround(Math.fround(isum) * Math.fround(a.scales[r]! * wScales[c]!));
      }
    }
  }
  return y;
}
