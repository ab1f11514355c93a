// Ternary GEMV/GEMM at the bitnet-b1.58-2B-4T shapes. Napkin math: decode streams 2-bit weights
// (rows * colsPadded / 4 bytes per call) so its figure of merit is GB/s against the measured DRAM read
// bandwidth; prefill is compute: 2 * N * M * K operations per call.
import {
  allocQuantizedActivations,
  encodeTernary,
  getThreads,
  type Isa,
  kernelInfo,
  packTernary,
  quantizeActivations,
  randomPackedTernary,
  setIsa,
  setThreads,
  ternaryMatmul,
} from '../lib/index.js';
import type { BenchContext } from './context.js';

const SHAPES: [k: number, m: number][] = [
  [2560, 2560], // attention q/o
  [2560, 640], // attention k/v
  [2560, 6912], // ffn gate/up
  [6912, 2560], // ffn down
];
// Rotating over this many bytes of distinct copies keeps every call's weights out of the 32 MiB L3.
const RESIDENT_BYTES = 96 << 20;

function activations(n: number, k: number) {
  const qa = allocQuantizedActivations(n, k, 'per-token');
  const x = new Float32Array(n * k);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) * 2;
  quantizeActivations(x, n, qa);
  return qa;
}

export async function run(ctx: BenchContext): Promise<void> {
  const before = { threads: getThreads(), isa: kernelInfo().isa };
  const isas = kernelInfo().supportedIsas;
  const bw = { 1: ctx.readGBps(1), 2: ctx.readGBps(2) } as Record<number, number>;
  ctx.print(
    `ternary: measured DRAM read bandwidth ${bw[1]!.toFixed(1)} GB/s (1 thread), ${bw[2]!.toFixed(1)} GB/s (2)`,
  );
  ctx.print(
    `ternary GEMV (N = 1, per-token), weights rotated over >= ${RESIDENT_BYTES >> 20} MiB of copies (DRAM-resident):`,
  );
  ctx.print(
    '  (the probe streams with hardware prefetch only; the GEMV also prefetches into L2, so it can exceed it)',
  );
  try {
    for (const [k, m] of ctx.quick ? SHAPES.slice(2, 3) : SHAPES) {
      const one = randomPackedTernary(m, k, k + m);
      const bytes = one.data.length;
      const copies = Math.max(2, Math.ceil(RESIDENT_BYTES / bytes));
      const mats = Array.from({ length: copies }, (_, i) =>
        i === 0 ? one : { ...one, data: one.data.slice(), rowScales: one.rowScales },
      );
      const qa = activations(1, k);
      const y = new Float32Array(m);
      for (const isa of isas) {
        if (isa === 'generic' && !(k === 2560 && m === 2560)) continue; // the scalar path is slow: one shape
        setIsa(isa);
        for (const threads of [1, 2]) {
          setThreads(threads);
          let i = 0;
          const reps = isa === 'generic' ? 3 : Math.min(200, copies * 2);
          const t = ctx.median(() => ternaryMatmul(mats[i++ % copies]!, qa, 1, y), reps);
          const gbps = bytes / t / 1e9;
          ctx.print(
            `  ${k}->${m} ${isa.padEnd(7)} ${threads}T: ${(t * 1e6).toFixed(1)} us, ${(bytes / 1e6).toFixed(2)} MB ` +
              `-> ${gbps.toFixed(1)} GB/s = ${((100 * gbps) / bw[threads]!).toFixed(0)}% of read bandwidth (${copies} copies)`,
          );
        }
      }
    }

    const [k, m] = [2560, 6912];
    const w = randomPackedTernary(m, k, 1);
    setThreads(2);
    ctx.print(`ternary GEMM ${k}->${m}, 2 threads, per-token (GOPS = 2*N*M*K / s):`);
    for (const n of ctx.quick ? [128] : [16, 128, 512]) {
      const qa = activations(n, k);
      const y = new Float32Array(n * m);
      const gops: Partial<Record<Isa, number>> = {};
      for (const isa of isas) {
        if (isa === 'generic') continue;
        setIsa(isa);
        const t = ctx.median(() => ternaryMatmul(w, qa, n, y), n >= 512 ? 3 : 7);
        gops[isa] = (2 * n * m * k) / t / 1e9;
        ctx.print(
          `  N=${String(n).padEnd(3)} ${isa.padEnd(6)} ${(t * 1e3).toFixed(2)} ms, ${gops[isa]!.toFixed(0)} GOPS`,
        );
      }
      if (gops.avx2 && gops.avx512)
        ctx.print(`  N=${n} avx512/avx2 = ${(gops.avx512 / gops.avx2).toFixed(2)}x`);
    }

    // Model load: writing a synthetic model and repacking a real one both touch every weight once.
    setThreads(2);
    const values = new Int8Array(m * k);
    for (let i = 0; i < values.length; i++) values[i] = (i % 3) - 1;
    for (const format of ['TQ2_0', 'I2_S'] as const) {
      const scales = new Float32Array(format === 'I2_S' ? 1 : values.length / 256).fill(1);
      const tEnc = ctx.median(() => encodeTernary(format, values, scales), 3);
      const bytes = encodeTernary(format, values, scales);
      const tPack = ctx.median(() => packTernary(format, bytes, m, k), 3);
      const rate = (t: number) => `${((values.length / t) * 1e-9).toFixed(2)} Gweights/s`;
      ctx.print(
        `model load ${format} ${k}x${m}, 2 threads: encode ${rate(tEnc)}, pack ${rate(tPack)} ` +
          `(2.4e9 weights: encode ${((2.4e9 / values.length) * tEnc).toFixed(1)} s, pack ${((2.4e9 / values.length) * tPack).toFixed(1)} s)`,
      );
    }
  } finally {
    setThreads(before.threads);
    setIsa(before.isa);
  }
}
