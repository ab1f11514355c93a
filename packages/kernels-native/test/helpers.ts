// Test utilities shared by the kernel tests: seeded random data (so a failure reproduces) and the loop that
// runs a check on every ISA level and thread count.
import { forEachIsa, getThreads, type Isa, type PackedTernary, setThreads } from '../lib/index.js';
import { packRef } from './reference/ternary.js';

/** Seeded xorshift32 in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Uniform values in [-scale, scale). */
export function randomF32(length: number, rand: () => number, scale = 1): Float32Array {
  const a = new Float32Array(length); // (length)
  for (let i = 0; i < length; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

/** Ternary weights: each -1, 0 or +1. */
export function randomTernary(n: number, seed: number): Int8Array {
  const r = rng(seed);
  const v = new Int8Array(n); // (n)
  for (let i = 0; i < n; i++) v[i] = Math.floor(r() * 3) - 1;
  return v;
}

/** `values` (rows, cols) as a PackedTernary built by the reference packer, with `rowScales` (rows). */
export function packedTernary(
  values: Int8Array,
  rows: number,
  cols: number,
  rowScales: Float32Array,
): PackedTernary {
  return {
    rows,
    cols,
    colsPadded: Math.ceil(cols / 256) * 256,
    data: packRef(values, rows, cols),
    rowScales,
  };
}

/** Activations with outliers and exact ties so the quantizers' rounding and clamping paths are exercised. */
export function randomActivations(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n); // (n)
  for (let i = 0; i < n; i++) {
    const u = r();
    x[i] = u < 0.01 ? (r() - 0.5) * 40 : u < 0.02 ? Math.round((r() - 0.5) * 8) / 2 : (r() - 0.5) * 2;
  }
  return x;
}

/** Byte equality without vitest's deep diff (which is far too slow on model-sized arrays). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** `a` after its buffer was transferred away (its length reads 0): an argument the kernels must refuse. */
export function detach<T extends ArrayBufferView>(a: T): T {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  return a;
}

/**
 * Runs `check` on every ISA level this machine supports with each of `threadCounts` pool sizes, restoring
 * the thread count afterwards (forEachIsa restores the level).
 */
export function forEachIsaAndThreads(
  threadCounts: number[],
  check: (isa: Isa, threads: number) => void,
): void {
  const before = getThreads();
  try {
    for (const threads of threadCounts) {
      setThreads(threads);
      forEachIsa((isa) => check(isa, threads));
    }
  } finally {
    setThreads(before);
  }
}

/**
 * For bad-argument tests: a thunk that calls `fn` with a copy of the valid `args` after `patch` spoiled one
 * of them, so each case states only what it changes.
 */
export function callPatched<Args extends unknown[]>(
  fn: (...args: Args) => unknown,
  args: Args,
  patch: (args: Args) => void,
): () => void {
  return () => {
    const copy = [...args] as Args;
    patch(copy);
    fn(...copy);
  };
}
