// Lookup-table (T-MAC / TL2 style) ternary GEMM against the multiply-add kernel, at the bitnet-b1.58-2B-4T and
// bitnet_b1_58-large (700M) projection shapes. Napkin math: decode (N = 1) streams the weights once per call,
// MAD reads 2 bits per weight (rows * colsPadded / 4 bytes), LUT 1.81 (29 uint16 words per 256 weights), so
// the figure of merit is GB/s of the kernel's own bytes against the measured DRAM read bandwidth, and the
// time to beat is MAD's. GEMM (N = 16, 128) is compute: GOPS = 2 * N * M * K / s. The last column says what
// the chooser would pick from these medians (LUT only when >= 3% faster).
import {
  allocLutScratch,
  allocQuantizedActivations,
  getThreads,
  type Isa,
  kernelInfo,
  type LutRowsPerTile,
  lutMatmul,
  lutPack,
  quantizeActivations,
  randomPackedTernary,
  setIsa,
  setThreads,
  ternaryMatmul,
} from '../lib/index.js';
import type { BenchContext } from './context.js';

// [model, K (cols), M (rows), role]
const SHAPES: [string, number, number, string][] = [
  ['2b4t', 2560, 2560, 'q/o'],
  ['2b4t', 2560, 640, 'k/v'],
  ['2b4t', 2560, 6912, 'gate/up'],
  ['2b4t', 6912, 2560, 'down'],
  ['700m', 1536, 1536, 'q/k/v/o'],
  ['700m', 1536, 4096, 'gate/up'],
  ['700m', 4096, 1536, 'down'],
];
// Rotating over this many bytes of copies keeps each decode call's weights out of the 32 MiB L3.
const RESIDENT_BYTES = 96 << 20;
const TABLE_BUDGET = 1 << 20; // scratch rows as @ternion/tmac layoutForShape picks them
const BLOCKS_PER_CHUNK = 6; // K chunk whose tables (6 * 5568 bytes) fit the 48 KiB L1, as layoutForShape picks

/**
 * Median seconds of each function, calls taken round-robin after one warm-up each: the machine is shared, and
 * interleaving makes a load change hit every variant alike instead of whichever ran during it.
 */
function interleavedMedians(fns: (() => void)[], reps: number): number[] {
  for (const f of fns) f();
  const times = fns.map(() => [] as number[]);
  for (let r = 0; r < reps; r++) {
    fns.forEach((f, i) => {
      const t0 = process.hrtime.bigint();
      f();
      times[i]!.push(Number(process.hrtime.bigint() - t0) / 1e9);
    });
  }
  return times.map((t) => t.sort((a, b) => a - b)[t.length >> 1]!);
}

function rowsPerTileFor(rows: number, isa: Isa): LutRowsPerTile {
  const candidates: LutRowsPerTile[] = isa === 'avx512' ? [128, 64, 32] : [64, 32, 16];
  return candidates.find((r) => rows >= 4 * r) ?? candidates[candidates.length - 1]!;
}

export async function run(ctx: BenchContext): Promise<void> {
  const before = { threads: getThreads(), isa: kernelInfo().isa };
  const isas = kernelInfo().supportedIsas.filter((i) => i !== 'generic');
  const bw: Record<number, number> = { 1: ctx.readGBps(1), 2: ctx.readGBps(2) };
  ctx.print(
    `lut: measured DRAM read bandwidth ${bw[1]!.toFixed(1)} GB/s (1 thread), ${bw[2]!.toFixed(1)} GB/s (2)`,
  );
  ctx.print(
    '  shape            isa     T  N    MAD                      LUT                      LUT/MAD  pick',
  );
  const wins: string[] = [];
  const picks = new Map<string, 'mad' | 'lut'>(); // `${k}x${m} ${isa} ${threads} ${n}` -> faster kernel
  try {
    for (const [model, k, m, role] of ctx.quick ? SHAPES.slice(0, 1) : SHAPES) {
      const one = randomPackedTernary(m, k, k * 7 + m);
      const madBytes = one.data.length;
      const copies = Math.max(2, Math.ceil(RESIDENT_BYTES / madBytes));
      const mads = Array.from({ length: copies }, (_, i) =>
        i === 0 ? one : { ...one, data: one.data.slice() },
      );
      for (const isa of isas) {
        setIsa(isa);
        const lutOne = lutPack(one, {
          rowsPerTile: rowsPerTileFor(m, isa),
          blocksPerChunk: BLOCKS_PER_CHUNK,
        });
        const lutBytes = lutOne.data.byteLength;
        const luts = Array.from({ length: copies }, (_, i) =>
          i === 0 ? lutOne : { ...lutOne, data: lutOne.data.slice() },
        );
        for (const n of ctx.quick ? [1] : [1, 16, 128]) {
          const qa = allocQuantizedActivations(n, k, 'per-token');
          const x = new Float32Array(n * k); // (n, k)
          for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) * 2;
          quantizeActivations(x, n, qa);
          const y = new Float32Array(n * m); // (n, m)
          const scratchRows = Math.min(
            n,
            32,
            Math.max(4, Math.floor(TABLE_BUDGET / (Math.ceil(k / 256) * 87 * 64))),
          );
          const scratch = allocLutScratch(k, scratchRows);
          for (const threads of [1, 2]) {
            setThreads(threads);
            // Decode rotates copies (DRAM-resident weights); GEMM reuses one matrix, as prefill is compute-bound.
            const rot = n === 1 ? copies : 1;
            const reps = n === 1 ? Math.min(200, copies * 2) : n === 16 ? 9 : isa === 'avx2' ? 3 : 5;
            let i = 0;
            let j = 0;
            const [tMad, tLut] = interleavedMedians(
              [
                () => ternaryMatmul(mads[i++ % rot]!, qa, n, y),
                () => lutMatmul(luts[j++ % rot]!, qa, n, y, scratch),
              ],
              reps,
            ) as [number, number];
            const fmt = (t: number, bytes: number) => {
              if (n > 1)
                return `${(t * 1e3).toFixed(2).padStart(7)} ms ${((2 * n * m * k) / t / 1e9).toFixed(0).padStart(4)} GOPS`.padEnd(
                  24,
                );
              const gbps = bytes / t / 1e9;
              return `${(t * 1e6).toFixed(0).padStart(5)} us ${gbps.toFixed(1).padStart(5)} GB/s ${((100 * gbps) / bw[threads]!).toFixed(0).padStart(3)}%`.padEnd(
                24,
              );
            };
            const pick = tLut < tMad * 0.97 ? 'lut' : 'mad';
            picks.set(`${k}x${m} ${isa} ${threads} ${n}`, pick);
            if (pick === 'lut') wins.push(`${model} ${role} ${isa} ${threads}T N=${n}`);
            ctx.print(
              `  ${`${model} ${role}`.padEnd(16)} ${isa.padEnd(7)} ${threads}  ${String(n).padEnd(4)} ${fmt(tMad, madBytes)} ${fmt(tLut, lutBytes)} ${(tLut / tMad).toFixed(2).padStart(5)}    ${pick}`,
            );
          }
        }
      }
    }
    ctx.print(
      `  (N = 1 rotates ${RESIDENT_BYTES >> 20} MiB of weight copies; bytes: MAD 2 bits/weight, LUT 1.81)`,
    );
    ctx.print(`lut: LUT >= 3% faster at ${wins.length === 0 ? 'no shape' : wins.join('; ')}`);
    if (!ctx.quick) layerStack(ctx, picks, isas[isas.length - 1]!);
  } finally {
    setThreads(before.threads);
    setIsa(before.isa);
  }
}

/**
 * The ternary part of a 2B-4T forward pass: the 7 projections of enough layers to exceed the L3 (as the 30
 * real layers do), all-MAD vs all-LUT vs the per-shape pick from the table above. This is what the chooser
 * changes end to end; attention, norms and the LM head are the same in all three.
 */
function layerStack(ctx: BenchContext, picks: Map<string, 'mad' | 'lut'>, isa: Isa): void {
  const projections = SHAPES.filter((s) => s[0] === '2b4t').flatMap(([, k, m, role]) =>
    role === 'q/o' || role === 'k/v' || role === 'gate/up'
      ? [
          [k, m],
          [k, m],
        ]
      : [[k, m]],
  ) as [number, number][];
  const layerBytes = projections.reduce((a, [k, m]) => a + (m * k) / 4, 0);
  const layers = Math.ceil(RESIDENT_BYTES / layerBytes);
  setIsa(isa);
  const weights = Array.from({ length: layers }, (_, l) =>
    projections.map(([k, m], p) => {
      const mad = randomPackedTernary(m, k, 1000 * l + p + 1);
      return {
        k,
        m,
        mad,
        lut: lutPack(mad, { rowsPerTile: rowsPerTileFor(m, isa), blocksPerChunk: BLOCKS_PER_CHUNK }),
      };
    }),
  );
  ctx.print(
    `lut: 2b4t ternary projections of ${layers} layers (${((layers * layerBytes) / 2 ** 20).toFixed(0)} MiB), ${isa}, ms per step:`,
  );
  for (const n of [1, 16]) {
    const acts = new Map<number, ReturnType<typeof allocQuantizedActivations>>();
    for (const k of [2560, 6912]) {
      const qa = allocQuantizedActivations(n, k, 'per-token');
      const x = new Float32Array(n * k); // (n, k)
      for (let i = 0; i < x.length; i++) x[i] = Math.cos(i * 0.11);
      quantizeActivations(x, n, qa);
      acts.set(k, qa);
    }
    const y = new Float32Array(n * 6912); // (n, largest m)
    const scratch = allocLutScratch(6912, Math.min(n, 4));
    for (const threads of [1, 2]) {
      setThreads(threads);
      const step = (choose: (k: number, m: number) => 'mad' | 'lut') => () => {
        for (const layer of weights) {
          for (const w of layer) {
            const qa = acts.get(w.k)!;
            if (choose(w.k, w.m) === 'lut') lutMatmul(w.lut, qa, n, y, scratch);
            else ternaryMatmul(w.mad, qa, n, y);
          }
        }
      };
      const reps = n === 1 ? 21 : 7;
      const [tMad, tLut, tPick] = interleavedMedians(
        [
          step(() => 'mad'),
          step(() => 'lut'),
          step((k, m) => picks.get(`${k}x${m} ${isa} ${threads} ${n}`) ?? 'mad'),
        ],
        reps,
      ) as [number, number, number];
      const best = Math.min(tMad, tLut);
      ctx.print(
        `  N=${String(n).padEnd(3)} ${threads}T: MAD ${(tMad * 1e3).toFixed(2)}, LUT ${(tLut * 1e3).toFixed(2)}, chosen ${(tPick * 1e3).toFixed(2)} ` +
          `(${tPick <= best * 1.02 ? 'at least as fast as either' : `${((tPick / best - 1) * 100).toFixed(0)}% behind the better one`})`,
      );
    }
  }
}
