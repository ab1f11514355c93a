// Decode attention at the bitnet-b1.58-2B-4T shape (20 query heads, 5 KV heads, head_dim 128, f16 cache).
// Napkin math: one token of one layer reads ctx × 5 heads × 128 dims × 2 bytes × 2 (K and V) = 2.6 kB per
// position (10.5 MB at 4096) and does 20 × 128 × 2 × 2 = 10 kFLOP per position, i.e. 4 FLOP per byte:
// attention at decode is a bandwidth problem. "hot" reuses one layer's cache (it fits the 32 MiB L3 up to
// ctx 4096); "cold" rotates over as many layer caches as make 96 MB (3× L3), like a forward pass through
// 30 layers does, and is the figure to hold against the DRAM read bandwidth. The int8 cache halves the
// bytes (plus 8 bytes of scales per position and head). Then the continuous-batching decode step of the 700m
// model (16 sequences, blocks scattered over the arena) and a prefill chunk at the same shape.
import { loadavg } from 'node:os';
import {
  getThreads,
  type Isa,
  type KvCacheShape,
  kernelInfo,
  kvCacheElements,
  kvScaleElements,
  measureComputePeak,
  pagedAttention,
  pagedAttentionI8,
  setIsa,
  setThreads,
} from '../lib/index.js';
import type { BenchContext } from './context.js';

const N_HEADS = 20;
const N_KV_HEADS = 5;
const HEAD_DIM = 128;
const BLOCK_SIZE = 16;

function randomHalves(length: number, seed: number): Uint16Array {
  const out = new Uint16Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s = (s ^ (s << 13)) >>> 0;
    s = (s ^ (s >>> 17)) >>> 0;
    s = (s ^ (s << 5)) >>> 0;
    out[i] = (s & 0x83ff) | 0x3400; // |x| in [0.25, 0.5), random sign and mantissa
  }
  return out;
}

function randomInt8(length: number, seed: number): Int8Array {
  return new Int8Array(randomHalves((length + 1) >> 1, seed).buffer, 0, length);
}

type Dtype = 'f16' | 'int8';

export async function run(ctx: BenchContext): Promise<void> {
  const before = { threads: getThreads(), isa: kernelInfo().isa };
  const threadCounts = [1, 2];
  const bw = new Map(threadCounts.map((t) => [t, ctx.readGBps(t)]));
  ctx.print(
    `attention: read bandwidth ${threadCounts.map((t) => `${t}T ${bw.get(t)?.toFixed(1)} GB/s`).join(', ')}; ` +
      `load average ${loadavg()[0]?.toFixed(1)} (2-thread figures need an idle machine: a busy one delays the ` +
      `pool's second thread by whole scheduler ticks)`,
  );
  const best = kernelInfo().bestIsa;
  const reps = ctx.quick ? 5 : 15;
  const scale = 1 / Math.sqrt(HEAD_DIM);
  const q = new Float32Array(N_HEADS * HEAD_DIM).map((_, i) => Math.sin(i)); // (1, nHeads, headDim)
  const out = new Float32Array(N_HEADS * HEAD_DIM); // (1, nHeads, headDim)
  const tokenSeq = new Int32Array(1);

  for (const contextLength of ctx.quick ? [1024] : [256, 1024, 4096]) {
    const blocksPerSeq = contextLength / BLOCK_SIZE;
    const shape = { numBlocks: blocksPerSeq, blockSize: BLOCK_SIZE, nKvHeads: N_KV_HEADS, headDim: HEAD_DIM };
    const elements = kvCacheElements(shape);
    // The sequence's blocks in reverse order, so the table is not the identity.
    const blockTable = Int32Array.from({ length: blocksPerSeq }, (_, i) => blocksPerSeq - 1 - i); // (1, blocksPerSeq)
    const tokenPos = Int32Array.of(contextLength - 1);
    for (const dtype of ['f16', 'int8'] as Dtype[]) {
      // K and V plus, for int8, one f32 scale per position and head for each.
      const kvBytes = dtype === 'f16' ? 2 * 2 * elements : 2 * (elements + 4 * kvScaleElements(shape));
      const layers = Math.max(1, Math.ceil(96e6 / kvBytes));
      const attendLayer = layerCaches(dtype, layers, shape, elements);
      let layer = 0;
      const attend = (rotate: boolean) => () =>
        attendLayer(
          rotate ? layer++ % layers : 0,
          q,
          blockTable,
          blocksPerSeq,
          tokenSeq,
          tokenPos,
          scale,
          out,
        );
      const isas: Isa[] = ctx.quick || dtype === 'int8' ? [best] : kernelInfo().supportedIsas;
      for (const isa of isas) {
        setIsa(isa);
        for (const t of threadCounts) {
          setThreads(t);
          const line = [
            `ctx ${String(contextLength).padStart(4)} ${dtype.padEnd(4)} ${isa.padEnd(7)} ${t}T:`,
          ];
          for (const rotate of [false, true]) {
            const s = ctx.median(
              attend(rotate),
              isa === 'generic' ? 3 : rotate ? Math.max(reps, layers) : reps,
            );
            const gbps = kvBytes / s / 1e9;
            line.push(
              `${rotate ? 'cold' : 'hot'} ${(s * 1e6).toFixed(0).padStart(5)} µs ${gbps.toFixed(1).padStart(5)} GB/s ` +
                `(${((100 * gbps) / (bw.get(t) ?? 1)).toFixed(0)}% of DRAM read)`,
            );
          }
          ctx.print(`${line.join('  ')}  [${(kvBytes / 1e6).toFixed(2)} MB per call]`);
        }
      }
    }
  }
  // The 700m decode step: the figure to hold against the read bandwidth (every layer's K/V is cold).
  setIsa(best);
  for (const positions of ctx.quick ? [60] : [60, 160, 300, 0]) {
    const step = decode700m(positions);
    for (const t of threadCounts) {
      setThreads(t);
      const s = ctx.median(step.run, Math.max(reps, 2 * step.layers));
      const gbps = step.kvBytes / s / 1e9;
      ctx.print(
        `700m decode, 16 seqs x ${positions > 0 ? String(positions).padStart(3) : '30..300'} positions ${t}T: ` +
          `${(s * 1e6).toFixed(0).padStart(5)} µs per layer ${gbps.toFixed(1).padStart(5)} GB/s ` +
          `(${((100 * gbps) / (bw.get(t) ?? 1)).toFixed(0)}% of DRAM read)  [${(step.kvBytes / 1e6).toFixed(2)} MB ` +
          `per layer, ${step.layers} layers rotated]`,
      );
    }
  }
  // The server's continuous-batching decode step at the 700m shape with short contexts: 16 sequences of 12..60
  // positions, one token each. 2 FLOP per byte of K/V, so the bound is the read bandwidth, not the FMA peak
  // (printed for scale): a step reads every layer's K/V once, 24 layers × this call.
  const fmaPeak = new Map(threadCounts.map((t) => [t, peakFlops(t)]));
  const short = decode700m(SHORT_CONTEXTS);
  for (const t of threadCounts) {
    setThreads(t);
    const s = ctx.median(short.run, Math.max(reps, 2 * short.layers));
    const gbps = short.kvBytes / s / 1e9;
    const gflops = short.flops / s / 1e9;
    ctx.print(
      `700m decode, 16 seqs x 12..60 positions ${t}T: ${(s * 1e6).toFixed(0).padStart(5)} µs per layer ` +
        `(${(24 * s * 1e3).toFixed(2)} ms per 24-layer step), ${gbps.toFixed(1)} GB/s ` +
        `(${((100 * gbps) / (bw.get(t) ?? 1)).toFixed(0)}% of DRAM read), ${gflops.toFixed(1)} GFLOP/s ` +
        `(${((100 * gflops * 1e9) / (fmaPeak.get(t) ?? 1)).toFixed(1)}% of f32 FMA peak)  ` +
        `[${(short.kvBytes / 1e6).toFixed(2)} MB per layer, ${short.layers} layers rotated]`,
    );
  }
  // A causal prefill chunk at the same shape: compute-bound (each token re-reads one sequence's K/V, which
  // stays in cache), 2 × 2 × 96 FLOP per (token, head, position).
  const prefill = prefill700m(128, 512);
  for (const t of threadCounts) {
    setThreads(t);
    const s = ctx.median(prefill.run, reps);
    ctx.print(
      `700m prefill, 128 tokens at positions 384..511 ${t}T: ${(s * 1e6).toFixed(0).padStart(6)} µs ` +
        `${(prefill.flops / s / 1e9).toFixed(1)} GFLOP/s`,
    );
  }
  setThreads(before.threads);
  setIsa(before.isa);
}

/** Context lengths of the short-context decode batch: 12, 15, .., 60 (mostly not multiples of 16). */
const SHORT_CONTEXTS = Array.from({ length: 16 }, (_, s) => 12 + Math.round((48 * s) / 15));

/** f32 FLOP/s (2 per FMA) the pool's first `threads` threads can issue. */
function peakFlops(threads: number): number {
  const before = getThreads();
  setThreads(threads);
  const peak = measureComputePeak(3);
  setThreads(before);
  return 2 * peak.f32FmasPerSecond;
}

/**
 * `n` tokens of one sequence (positions contextLength - n .. contextLength - 1) at the 700m shape, its blocks
 * in a scrambled order.
 */
export function prefill700m(n: number, contextLength: number): { run: () => void; flops: number } {
  const nHeads = 16;
  const headDim = 96;
  const numBlocks = Math.ceil(contextLength / BLOCK_SIZE);
  const elements = kvCacheElements({ numBlocks, blockSize: BLOCK_SIZE, nKvHeads: nHeads, headDim });
  const k = randomHalves(elements, 7); // (numBlocks, nKvHeads, headDim, blockSize)
  const v = randomHalves(elements, 8); // (numBlocks, nKvHeads, blockSize, headDim)
  const blockTable = Int32Array.from({ length: numBlocks }, (_, i) => (i * 7) % numBlocks); // (1, numBlocks)
  const q = new Float32Array(n * nHeads * headDim).map((_, i) => Math.sin(i)); // (n, nHeads, headDim)
  const out = new Float32Array(n * nHeads * headDim); // (n, nHeads, headDim)
  const tokenSeq = new Int32Array(n); // (n)
  const tokenPos = Int32Array.from({ length: n }, (_, i) => contextLength - n + i); // (n)
  let positions = 0;
  for (const p of tokenPos) positions += p + 1;
  const run = () =>
    pagedAttention(
      q,
      k,
      v,
      numBlocks,
      BLOCK_SIZE,
      nHeads,
      nHeads,
      headDim,
      blockTable,
      numBlocks,
      tokenSeq,
      tokenPos,
      n,
      1 / Math.sqrt(headDim),
      out,
    );
  return { run, flops: positions * nHeads * headDim * 4 };
}

/** One layer's decode attention at the 700m shape, rotating over enough layers that K/V come from DRAM. */
export interface DecodeStep {
  /** Runs one layer (the next one in rotation). */
  run: () => void;
  /** K and V bytes one layer reads. */
  kvBytes: number;
  /** FLOPs of one layer: 2 × 2 per (token, head, position, dimension) for q·k and p·V. */
  flops: number;
  layers: number;
}

/**
 * The decode step of a continuous batch at the bitnet_b1_58-large (700m) shape: 16 heads, 16 KV heads (no
 * GQA), head_dim 96, f16 cache, 16-position blocks, 16 sequences of `positions` each (0: 30, 48, .., 300;
 * an array: one length per sequence).
 * Every sequence's blocks are scattered over a shuffled arena, as a block pool hands them out after some
 * churn, so no two consecutive blocks of a sequence are adjacent. Napkin math: 16 × 96 × 2 bytes × 2 = 6 kB
 * of K and V per position and layer, 2 FLOP per byte: bandwidth-bound. `scattered` false deals the blocks in
 * arena order instead; `rotateBytes` is how much K/V the rotated layers hold together (96 MB = 3× L3: cold).
 */
export function decode700m(
  positions: number | readonly number[],
  scattered = true,
  rotateBytes = 96e6,
): DecodeStep {
  const nHeads = 16;
  const headDim = 96;
  const lens =
    typeof positions === 'number'
      ? Array.from({ length: 16 }, (_, s) => (positions > 0 ? positions : 30 + 18 * s))
      : [...positions];
  const numSeqs = lens.length;
  const perSeq = lens.map((len) => Math.ceil(len / BLOCK_SIZE));
  const maxBlocksPerSeq = Math.max(...perSeq);
  const numBlocks = perSeq.reduce((a, b) => a + b, 0);
  const shape = { numBlocks, blockSize: BLOCK_SIZE, nKvHeads: nHeads, headDim };
  const elements = kvCacheElements(shape);
  // A seeded shuffle of the arena's blocks, dealt to the sequences in order.
  const pool = Array.from({ length: numBlocks }, (_, i) => i);
  let seed = 12345;
  for (let i = scattered ? pool.length - 1 : 0; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    [pool[i], pool[j]] = [pool[j] ?? 0, pool[i] ?? 0];
  }
  const blockTables = new Int32Array(numSeqs * maxBlocksPerSeq); // (numSeqs, maxBlocksPerSeq)
  let next = 0;
  perSeq.forEach((blocks, s) => {
    for (let b = 0; b < blocks; b++) blockTables[s * maxBlocksPerSeq + b] = pool[next++] ?? 0;
  });
  const tokenSeq = Int32Array.from(lens, (_, s) => s); // (numSeqs)
  const tokenPos = Int32Array.from(lens, (len) => len - 1); // (numSeqs)
  const kvBytes = lens.reduce((a, len) => a + len, 0) * nHeads * headDim * 2 * 2;
  const flops = lens.reduce((a, len) => a + len, 0) * nHeads * headDim * 4;
  const layers = Math.max(1, Math.ceil(rotateBytes / kvBytes));
  const caches = Array.from({ length: layers }, (_, l) => ({
    k: randomHalves(elements, 2 * l + 1), // (numBlocks, nKvHeads, headDim, blockSize)
    v: randomHalves(elements, 2 * l + 2), // (numBlocks, nKvHeads, blockSize, headDim)
  }));
  const q = new Float32Array(numSeqs * nHeads * headDim).map((_, i) => Math.sin(i)); // (numSeqs, nHeads, headDim)
  const out = new Float32Array(numSeqs * nHeads * headDim); // (numSeqs, nHeads, headDim)
  const scale = 1 / Math.sqrt(headDim);
  let layer = 0;
  const run = () => {
    const c = caches[layer++ % layers];
    if (c)
      pagedAttention(
        q,
        c.k,
        c.v,
        numBlocks,
        BLOCK_SIZE,
        nHeads,
        nHeads,
        headDim,
        blockTables,
        maxBlocksPerSeq,
        tokenSeq,
        tokenPos,
        numSeqs,
        scale,
        out,
      );
  };
  return { run, kvBytes, flops, layers };
}

type AttendLayer = (
  layer: number,
  q: Float32Array,
  blockTable: Int32Array,
  blocksPerSeq: number,
  tokenSeq: Int32Array,
  tokenPos: Int32Array,
  scale: number,
  out: Float32Array,
) => void;

/** `layers` independent caches of one dtype and a function running decode attention over one of them. */
function layerCaches(dtype: Dtype, layers: number, shape: KvCacheShape, elements: number): AttendLayer {
  const { numBlocks, blockSize, nKvHeads, headDim } = shape;
  if (dtype === 'f16') {
    const caches = Array.from({ length: layers }, (_, l) => ({
      k: randomHalves(elements, 2 * l + 1), // (numBlocks, nKvHeads, headDim, blockSize)
      v: randomHalves(elements, 2 * l + 2), // (numBlocks, nKvHeads, blockSize, headDim)
    }));
    return (layer, q, table, maxBlocks, seq, pos, scale, out) => {
      const c = caches[layer];
      if (c)
        pagedAttention(
          q,
          c.k,
          c.v,
          numBlocks,
          blockSize,
          N_HEADS,
          nKvHeads,
          headDim,
          table,
          maxBlocks,
          seq,
          pos,
          1,
          scale,
          out,
        );
    };
  }
  const scales = kvScaleElements(shape);
  const caches = Array.from({ length: layers }, (_, l) => ({
    k: randomInt8(elements, 2 * l + 1), // (numBlocks, nKvHeads, headDim, blockSize)
    kScales: new Float32Array(scales).fill(1 / 127), // (numBlocks, nKvHeads, blockSize)
    v: randomInt8(elements, 2 * l + 2), // (numBlocks, nKvHeads, blockSize, headDim)
    vScales: new Float32Array(scales).fill(1 / 127), // (numBlocks, nKvHeads, blockSize)
  }));
  return (layer, q, table, maxBlocks, seq, pos, scale, out) => {
    const c = caches[layer];
    if (c)
      pagedAttentionI8(
        q,
        c.k,
        c.kScales,
        c.v,
        c.vScales,
        numBlocks,
        blockSize,
        N_HEADS,
        nKvHeads,
        headDim,
        table,
        maxBlocks,
        seq,
        pos,
        1,
        scale,
        out,
      );
  };
}
