// Dense matmul benchmark. Napkin math: decode of bitnet-b1.58-2B-4T reads the tied F16 output matrix
// (128256 × 2560 = 656 MB) once per token, more than all ternary weights together, so the n = 1 GEMV must
// run at the machine's read bandwidth; its int8 copy halves the bytes. Prefill (n = 16 .. 128) reuses
// each weight row across the batch and becomes compute-bound: report GFLOPS (GOPS for int8) there.

import { availableParallelism, loadavg } from 'node:os';
import {
  getThreads,
  type Isa,
  kernelInfo,
  matmulF16,
  matmulF32,
  matmulI8,
  matmulI8ScratchBytes,
  quantizeRowsI8,
  setIsa,
  setThreads,
} from '../lib/index.js';
import type { BenchContext } from './context.js';

const VOCAB = 128256;
const EMBD = 2560;
const FFN = 6912;

/** Random-ish finite halves without a per-element Math.random (the matrix has 328 M elements). */
function fillF16(w: Uint16Array): void {
  let s = 0x9e3779b9;
  for (let i = 0; i < w.length; i++) {
    s = (s ^ (s << 13)) >>> 0;
    s = (s ^ (s >>> 17)) >>> 0;
    s = (s ^ (s << 5)) >>> 0;
    w[i] = (s & 0x83ff) | 0x2000; // |w| in [2^-7, 2^-6), random sign and mantissa
  }
}

function isas(): Isa[] {
  return kernelInfo().supportedIsas;
}

export async function run(ctx: BenchContext): Promise<void> {
  const before = { threads: getThreads(), isa: kernelInfo().isa };
  const reps = ctx.quick ? 2 : 3;
  const threadCounts = [1, 2];
  const bw = new Map(threadCounts.map((t) => [t, ctx.readGBps(t)]));
  ctx.print(
    `dense: read bandwidth ${threadCounts.map((t) => `${t}T ${bw.get(t)!.toFixed(1)} GB/s`).join(', ')}; ` +
      `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs (other work skews 2T figures)`,
  );

  // --- the output GEMV: y (1, 128256) = x (1, 2560) · Wᵀ ----------------------------------------------
  const w16 = new Uint16Array(VOCAB * EMBD); // (vocab, embd) F16, 656 MB
  fillF16(w16);
  const x = new Float32Array(EMBD).map((_, i) => Math.sin(i)); // (1, embd)
  const y = new Float32Array(VOCAB); // (1, vocab)
  const gemv = (label: string, bytes: number, fn: () => void, skipGeneric: boolean): void => {
    for (const isa of isas()) {
      if (skipGeneric && isa === 'generic') continue;
      setIsa(isa);
      for (const t of threadCounts) {
        setThreads(t);
        const s = ctx.median(fn, isa === 'generic' ? 1 : reps);
        const gbps = bytes / s / 1e9;
        ctx.print(
          `${label} ${isa.padEnd(7)} ${t}T: ${(s * 1e3).toFixed(1)} ms, ${(bytes / 1e6).toFixed(0)} MB -> ` +
            `${gbps.toFixed(1)} GB/s = ${((100 * gbps) / bw.get(t)!).toFixed(0)}% of read bandwidth`,
        );
      }
    }
  };
  gemv('gemv f16  128256x2560', w16.byteLength, () => matmulF16(w16, x, 1, VOCAB, EMBD, y), false);

  const w8 = new Int8Array(VOCAB * EMBD); // (vocab, embd) int8, 328 MB
  const scales = new Float32Array(VOCAB); // (vocab)
  setThreads(2);
  const tq = ctx.median(() => quantizeRowsI8(w16, 'f16', VOCAB, EMBD, w8, scales), 1);
  ctx.print(`quantizeRowsI8 f16 -> int8, 2T: ${(tq * 1e3).toFixed(0)} ms (load-time cost)`);
  const scratch = new Int8Array(matmulI8ScratchBytes(1, EMBD));
  gemv(
    'gemv int8 128256x2560',
    w8.byteLength + scales.byteLength,
    () => matmulI8(w8, scales, x, 1, VOCAB, EMBD, y, scratch),
    false,
  );

  // --- output GEMM of a continuous-batching decode step: y (n, vocab) = x (n, embd) · Wᵀ, F16, 2 threads -----
  // The tied output matrix of a 700m-shape model (32002 × 1536, 98 MB) and of 2B-4T (128256 × 2560, 656 MB),
  // for n sequences decoding together. W is read once per call whatever n is, so small n is bandwidth-bound
  // (time ≥ bytes / read bandwidth) and large n FMA-bound (2·n·m·k flops).
  setIsa(kernelInfo().bestIsa);
  setThreads(2);
  ctx.print(`output gemm: matmul_f16 runs ${kernelInfo().kernels.matmul_f16 ?? kernelInfo().isa}`);
  for (const [vocab, embd] of [
    [32002, 1536],
    [VOCAB, EMBD],
  ] as const) {
    const w = w16.subarray(0, vocab * embd); // (vocab, embd) F16
    const bytes = w.byteLength;
    for (const n of [1, 4, 16, 64]) {
      const xs = new Float32Array(n * embd).map((_, i) => Math.sin(i)); // (n, embd)
      const ys = new Float32Array(n * vocab); // (n, vocab)
      const s = ctx.median(() => matmulF16(w, xs, n, vocab, embd, ys), reps);
      const gbps = bytes / s / 1e9;
      ctx.print(
        `output gemm f16 n=${String(n).padEnd(2)} ${vocab}x${embd} 2T: ${(s * 1e3).toFixed(1)} ms, ` +
          `${((2 * n * vocab * embd) / s / 1e9).toFixed(0)} GFLOP/s, ${(bytes / 1e6).toFixed(0)} MB -> ` +
          `${gbps.toFixed(1)} GB/s = ${((100 * gbps) / bw.get(2)!).toFixed(0)}% of read bandwidth ` +
          `(bandwidth floor ${((bytes / (bw.get(2)! * 1e9)) * 1e3).toFixed(1)} ms)`,
      );
    }
  }

  // --- prefill GEMM: y (n, 6912) = x (n, 2560) · Wᵀ, F16 (and F32 for comparison) --------------------
  const wFfn = w16.subarray(0, FFN * EMBD); // (ffn, embd) F16
  const wFfn32 = Float32Array.from(wFfn.subarray(0, FFN * EMBD), (_, i) => Math.cos(i) * 0.01); // (ffn, embd)
  const wFfn8 = w8.subarray(0, FFN * EMBD); // (ffn, embd) int8
  const scalesFfn = scales.subarray(0, FFN); // (ffn)
  for (const n of [16, 128]) {
    const xs = new Float32Array(n * EMBD).map((_, i) => Math.sin(i)); // (n, embd)
    const ys = new Float32Array(n * FFN); // (n, ffn)
    const flops = 2 * n * FFN * EMBD;
    const scratchN = new Int8Array(matmulI8ScratchBytes(n, EMBD));
    for (const isa of isas()) {
      if (isa === 'generic' && n > 16) continue; // the scalar reference takes seconds here
      setIsa(isa);
      for (const t of threadCounts) {
        setThreads(t);
        const r = isa === 'generic' ? 1 : reps;
        const s16 = ctx.median(() => matmulF16(wFfn, xs, n, FFN, EMBD, ys), r);
        const s32 = ctx.median(() => matmulF32(wFfn32, xs, n, FFN, EMBD, ys), r);
        const s8 = ctx.median(() => matmulI8(wFfn8, scalesFfn, xs, n, FFN, EMBD, ys, scratchN), r);
        const rate = (s: number, unit: string) =>
          `${(flops / s / 1e9).toFixed(1)} ${unit} (${(s * 1e3).toFixed(1)} ms)`;
        ctx.print(
          `gemm n=${String(n).padEnd(3)} 2560->6912 ${isa.padEnd(7)} ${t}T: f16 ${rate(s16, 'GFLOPS')}, ` +
            `f32 ${rate(s32, 'GFLOPS')}, int8 ${rate(s8, 'GOPS')}`,
        );
      }
    }
  }
  setIsa(before.isa);
  setThreads(before.threads);
}
