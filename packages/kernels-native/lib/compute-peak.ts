import { native } from './native.js';

interface ComputePeakNative {
  computePeak(passes: number): { int8MacsPerSecond: number; f32FmasPerSecond: number; threads: number };
}
const n = native as unknown as ComputePeakNative;

export interface ComputePeak {
  /**
   * int8 multiply-adds per second of the instruction the ternary GEMMs are built on at the active ISA level
   * (AVX-512 VNNI `vpdpbusd`; AVX2 `vpmaddubsw` + `vpmaddwd`; scalar multiply-add on the generic level).
   */
  readonly int8MacsPerSecond: number;
  /** f32 fused multiply-adds per second (vector lanes counted one by one), what the F16/F32 GEMMs run on. */
  readonly f32FmasPerSecond: number;
  /** Pool threads the probe ran on. */
  readonly threads: number;
}

/**
 * Measures the throughput peaks of the arithmetic the GEMM kernels use, on every pool thread at once (median
 * of `passes`; about 10 ms per pass and kind). Benchmarks divide by it to print "% of peak", and a compute-bound
 * step's best possible time is its multiply-adds over these rates. Blocks the calling thread: benchmarks only.
 */
export function measureComputePeak(passes = 5): ComputePeak {
  if (!Number.isInteger(passes) || passes < 1 || passes > 100)
    throw new RangeError(`measureComputePeak: passes must be an integer in [1, 100], got ${String(passes)}`);
  return n.computePeak(passes);
}
