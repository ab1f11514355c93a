// Decode attention at the bitnet-b1.58-2B-4T shape (20 query heads, 5 KV heads, head_dim 128, f16 cache).
// Napkin math: one token of one layer reads ctx × 5 heads × 128 dims × 2 bytes × 2 (K and V) = 2.6 kB per
// position (10.5 MB at 4096) and does 20 × 128 × 2 × 2 = 10 kFLOP per position, i.e. 4 FLOP per byte:
// attention at decode is a bandwidth problem. "hot" reuses one layer's cache (it fits the 32 MiB L3 up to
// ctx 4096); "cold" rotates over as many layer caches as make 96 MB (3× L3), like a forward pass through
// 30 layers does, and is the figure to hold against the DRAM read bandwidth.
import {
  getThreads,
  type Isa,
  kernelInfo,
  kvCacheElements,
  pagedAttention,
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

export async function run(ctx: BenchContext): Promise<void> {
  const before = { threads: getThreads(), isa: kernelInfo().isa };
  const threadCounts = [1, 2];
  const bw = new Map(threadCounts.map((t) => [t, ctx.readGBps(t)]));
  ctx.print(
    `attention: read bandwidth ${threadCounts.map((t) => `${t}T ${bw.get(t)?.toFixed(1)} GB/s`).join(', ')}`,
  );
  const isas: Isa[] = ctx.quick ? [kernelInfo().bestIsa] : kernelInfo().supportedIsas;
  const reps = ctx.quick ? 5 : 15;

  for (const contextLength of ctx.quick ? [1024] : [256, 1024, 4096]) {
    const blocksPerSeq = contextLength / BLOCK_SIZE;
    const shape = { numBlocks: blocksPerSeq, blockSize: BLOCK_SIZE, nKvHeads: N_KV_HEADS, headDim: HEAD_DIM };
    const kvBytes = 2 * 2 * kvCacheElements(shape); // K and V, f16
    const layers = Math.max(1, Math.ceil(96e6 / kvBytes));
    const caches = Array.from({ length: layers }, (_, l) => ({
      k: randomHalves(kvCacheElements(shape), 2 * l + 1), // (numBlocks, nKvHeads, headDim, blockSize)
      v: randomHalves(kvCacheElements(shape), 2 * l + 2), // (numBlocks, nKvHeads, blockSize, headDim)
    }));
    // The sequence's blocks in reverse order, so the table is not the identity.
    const blockTable = Int32Array.from({ length: blocksPerSeq }, (_, i) => blocksPerSeq - 1 - i); // (1, blocksPerSeq)
    const q = new Float32Array(N_HEADS * HEAD_DIM).map((_, i) => Math.sin(i)); // (1, nHeads, headDim)
    const out = new Float32Array(N_HEADS * HEAD_DIM); // (1, nHeads, headDim)
    const tokenSeq = new Int32Array(1);
    const tokenPos = Int32Array.of(contextLength - 1);
    let layer = 0;
    const attend = (rotate: boolean) => () => {
      const c = caches[rotate ? layer++ % layers : 0];
      if (!c) return;
      pagedAttention(
        q,
        c.k,
        c.v,
        blocksPerSeq,
        BLOCK_SIZE,
        N_HEADS,
        N_KV_HEADS,
        HEAD_DIM,
        blockTable,
        blocksPerSeq,
        tokenSeq,
        tokenPos,
        1,
        1 / Math.sqrt(HEAD_DIM),
        out,
      );
    };
    for (const isa of isas) {
      setIsa(isa);
      for (const t of threadCounts) {
        setThreads(t);
        const line = [`ctx ${String(contextLength).padStart(4)} ${isa.padEnd(7)} ${t}T:`];
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
        ctx.print(`${line.join('  ')}  [${(kvBytes / 1e6).toFixed(2)} MB K+V per call]`);
      }
    }
  }
  setThreads(before.threads);
  setIsa(before.isa);
}
