/**
 * `npm run bench:vs-llamacpp`: Ternion against llama.cpp (node-llama-cpp 3.21.1) on a synthesized model of
 * the bitnet-b1.58-2B-4T shape (or another of MODEL_SHAPES: `-- --shape 700m`, the server benchmark's), both with 2 threads, in one run, alternating the contenders so that noise on
 * this shared machine hits both alike. Prints medians of 3, ratios, and the decode bandwidth limit.
 *
 * The TQ2_0 file is written as architecture `bitnet` (llama.cpp cannot load `bitnet-b1.58`); at this shape
 * its only difference from 2B-4T is SiLU instead of relu² in the FFN, which costs the same. The I2_S copy
 * (bitnet.cpp's format, which llama.cpp cannot load) is measured for Ternion only.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { loadModel, MODEL_SHAPES, type Model, synthesizeModel } from '@ternion/engine';
import { measureReadBandwidth, setThreads } from '@ternion/kernels-native';
import { getLlama, type LlamaModel } from 'node-llama-cpp';
import { centredCosine } from '../llama.js';
import { repoRoot } from '../paths.js';

/** `--quick`, `--shape NAME` / `--shape=NAME`; anything else is refused (a typo must not start a long run). */
function parseArgs(argv: readonly string[]): { quick: boolean; shape: string } {
  let quick = false;
  let shape = '2b4t';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--shape') shape = argv[++i] ?? '';
    else if (arg.startsWith('--shape=')) shape = arg.slice('--shape='.length);
    else {
      process.stderr.write(`vs-llamacpp: unknown argument '${arg}' (expected --quick, --shape NAME)\n`);
      process.exit(2);
    }
  }
  if (!Object.hasOwn(MODEL_SHAPES, shape)) {
    process.stderr.write(
      `--shape: expected one of ${Object.keys(MODEL_SHAPES).join(', ')}, got '${shape}'\n`,
    );
    process.exit(2);
  }
  return { quick, shape };
}
const { quick, shape: SHAPE } = parseArgs(process.argv.slice(2));
const THREADS = 2;
const PP = quick ? 64 : 256;
const TG = quick ? 16 : 128;
const REPS = 3;

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const fmt = (x: number): string => x.toFixed(2);

function randomTokens(n: number, vocab: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return 300 + ((x >>> 0) % (vocab - 600)); // ordinary tokens, no specials
  });
}

async function ensureModel(
  file: string,
  format: 'TQ2_0' | 'I2_S',
  architecture: 'bitnet' | 'bitnet-b1.58',
): Promise<void> {
  if (existsSync(file)) return;
  process.stdout.write(`synthesizing ${path.basename(file)} …\n`);
  const tmp = `${file}.tmp`;
  await synthesizeModel({ shape: SHAPE, format, architecture, seed: 1 }).write(tmp);
  renameSync(tmp, file);
}

async function ternionPP(model: Model, tokens: number[]): Promise<number> {
  const ctx = await model.createContext({ contextSize: tokens.length + 8, batchSize: tokens.length });
  try {
    const seq = ctx.getSequence();
    const t0 = performance.now();
    await ctx.evaluate(seq.id, tokens as never[], 'last');
    return tokens.length / ((performance.now() - t0) / 1000);
  } finally {
    ctx.dispose();
  }
}

async function ternionTG(model: Model, tokens: number[]): Promise<number> {
  const ctx = await model.createContext({ contextSize: tokens.length + 8, batchSize: 8 });
  try {
    const seq = ctx.getSequence();
    const t0 = performance.now();
    for (const t of tokens) await ctx.evaluate(seq.id, [t as never], 'last');
    return tokens.length / ((performance.now() - t0) / 1000);
  } finally {
    ctx.dispose();
  }
}

async function llamaPP(model: LlamaModel, tokens: number[]): Promise<number> {
  const ctx = await model.createContext({
    contextSize: 512,
    batchSize: Math.max(tokens.length, 32),
    threads: THREADS,
  });
  try {
    const seq = ctx.getSequence();
    const t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(tokens as never[]);
    return tokens.length / ((performance.now() - t0) / 1000);
  } finally {
    await ctx.dispose();
  }
}

async function llamaTG(model: LlamaModel, n: number, first: number): Promise<number> {
  const ctx = await model.createContext({ contextSize: 512, batchSize: 32, threads: THREADS });
  try {
    const seq = ctx.getSequence();
    let count = 0;
    const t0 = performance.now();
    for await (const _ of seq.evaluate([first as never], { temperature: 0 })) {
      if (++count >= n) break;
    }
    return count / ((performance.now() - t0) / 1000);
  } finally {
    await ctx.dispose();
  }
}

/**
 * Where decode time goes: the native program alone (every kernel of one step, replayed) vs a whole step
 * through the public API (scheduling, N-API crossing, the hop to the worker thread, logits copy).
 */
async function overheadSplit(model: Model, n: number): Promise<{ native: number; total: number }> {
  const ctx = await model.createContext({ contextSize: n + 8, batchSize: 8 });
  try {
    const seq = ctx.getSequence();
    const tokens = randomTokens(n, model.config.vocabSize, 3);
    await ctx.evaluate(seq.id, [tokens[0] as never], 'last');
    // Alternate the two, step by step, so the shared machine's load hits both alike; medians per kind. A
    // replay re-runs the step just taken (same token, same KV slot), so it changes nothing.
    const f = ctx.forward;
    const api: number[] = [];
    const replay: number[] = [];
    for (let i = 1; i < n; i++) {
      const t0 = performance.now();
      await ctx.evaluate(seq.id, [tokens[i] as never], 'last');
      api.push(performance.now() - t0);
      const t1 = performance.now();
      f.runSync(1, 1);
      replay.push(performance.now() - t1);
    }
    const total = median(api);
    const native = median(replay);
    return { native, total };
  } finally {
    ctx.dispose();
  }
}

/** Top-1 agreement and centred logit cosine of the int8 output copy against F16 over `n` positions. */
async function int8OutputEffect(f16: Model, i8: Model, n: number): Promise<{ top1: number; cosine: number }> {
  const tokens = randomTokens(n, f16.config.vocabSize, 4);
  const rows = async (m: Model): Promise<Float32Array[]> => {
    const ctx = await m.createContext({ contextSize: n + 8, batchSize: n });
    try {
      return await ctx.evaluate(ctx.getSequence().id, tokens as never[], 'all');
    } finally {
      ctx.dispose();
    }
  };
  const a = await rows(f16);
  const b = await rows(i8);
  let agree = 0;
  let cos = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    let ix = 0;
    let iy = 0;
    for (let j = 1; j < x.length; j++) {
      if (x[j]! > x[ix]!) ix = j;
      if (y[j]! > y[iy]!) iy = j;
    }
    if (ix === iy) agree++;
    cos += centredCosine(x, y);
  }
  return { top1: agree / n, cosine: cos / n };
}

async function main(): Promise<void> {
  const dir = path.join(repoRoot, '.bench-cache');
  mkdirSync(dir, { recursive: true });
  const tq2 = path.join(dir, `${SHAPE}-bitnet-tq2_0.gguf`);
  const i2s = path.join(dir, `${SHAPE}-bitnet-b1.58-i2_s.gguf`);
  await ensureModel(tq2, 'TQ2_0', 'bitnet');
  await ensureModel(i2s, 'I2_S', 'bitnet-b1.58');

  setThreads(THREADS);
  const probe = new Uint8Array(512 << 20).fill(1);
  const bw = measureReadBandwidth(probe, 5).bytesPerSecond;

  const ours = await loadModel(tq2, { threads: THREADS });
  const oursI2s = await loadModel(i2s, { threads: THREADS });
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  const theirs = await llama.loadModel({ modelPath: tq2, gpuLayers: 0 });
  const vocab = ours.config.vocabSize;
  const prompt = randomTokens(PP, vocab, 1);
  const gen = randomTokens(TG, vocab, 2);

  const r = {
    llamaPP: [] as number[],
    llamaTG: [] as number[],
    pp: [] as number[],
    tg: [] as number[],
    i2sPP: [] as number[],
    i2sTG: [] as number[],
  };
  // warm-up: page in every weight once for each contender
  await llamaTG(theirs, 4, gen[0]!);
  await ternionTG(ours, gen.slice(0, 4));
  await ternionTG(oursI2s, gen.slice(0, 4));
  for (let rep = 0; rep < REPS; rep++) {
    r.llamaPP.push(await llamaPP(theirs, prompt));
    r.pp.push(await ternionPP(ours, prompt));
    r.i2sPP.push(await ternionPP(oursI2s, prompt));
    r.llamaTG.push(await llamaTG(theirs, TG, gen[0]!));
    r.tg.push(await ternionTG(ours, gen));
    r.i2sTG.push(await ternionTG(oursI2s, gen));
    process.stdout.write(`rep ${rep + 1}/${REPS} done\n`);
  }

  const split = await overheadSplit(ours, quick ? 8 : 32);
  ours.dispose();
  const oursI8 = await loadModel(tq2, { threads: THREADS, outputInt8: true });
  const i8TG: number[] = [];
  for (let rep = 0; rep < REPS; rep++) i8TG.push(await ternionTG(oursI8, gen));
  const ours2 = await loadModel(tq2, { threads: THREADS });
  const effect = await int8OutputEffect(ours2, oursI8, quick ? 8 : 32);
  const i8Bytes = oursI8.weights.bytesPerToken;
  oursI8.dispose();

  const bytesPerToken = ours2.weights.bytesPerToken;
  const limit = bw / bytesPerToken;
  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v)])) as Record<
    keyof typeof r,
    number
  >;
  const out = (s: string): boolean => process.stdout.write(`${s}\n`);
  out('');
  out(
    `${MODEL_SHAPES[SHAPE]!.description} shape ('${SHAPE}', synthetic), ${THREADS} threads, pp${PP} / tg${TG}, median of ${REPS} (runs alternate the engines)`,
  );
  out(`| engine | file | pp${PP} tok/s | tg${TG} tok/s |`);
  out('|---|---|---|---|');
  out(`| llama.cpp (node-llama-cpp 3.21.1) | TQ2_0 | ${fmt(m.llamaPP)} | ${fmt(m.llamaTG)} |`);
  out(`| Ternion | TQ2_0 | ${fmt(m.pp)} | ${fmt(m.tg)} |`);
  out(`| Ternion | I2_S | ${fmt(m.i2sPP)} | ${fmt(m.i2sTG)} |`);
  out('');
  out(
    `ratio Ternion / llama.cpp (TQ2_0): prompt processing ${fmt(m.pp / m.llamaPP)}×, generation ${fmt(m.tg / m.llamaTG)}×`,
  );
  out(
    `decode bandwidth limit: ${(bytesPerToken / 1e9).toFixed(3)} GB streamed per token (ternary weights + output matrix) ÷ ` +
      `${(bw / 1e9).toFixed(1)} GB/s read bandwidth measured now = ${fmt(limit)} tok/s; Ternion reaches ${((m.tg / limit) * 100).toFixed(0)} % of it`,
  );
  out(
    `per-token split (decode, 1 token): kernels (native program replay) ${fmt(split.native)} ms, whole step through the API ` +
      `${fmt(split.total)} ms → overhead outside the kernels ${(((split.total - split.native) / split.total) * 100).toFixed(1)} %`,
  );
  out(
    `int8 output copy (--output-int8): tg${TG} ${fmt(median(i8TG))} tok/s vs ${fmt(m.tg)} F16 (${fmt(median(i8TG) / m.tg)}×), ` +
      `${(i8Bytes / 1e9).toFixed(3)} GB/token; vs F16 logits: top-1 agreement ${(effect.top1 * 100).toFixed(1)} %, ` +
      `centred cosine ${effect.cosine.toFixed(6)}`,
  );
  out(
    `all runs: ${JSON.stringify({ ...r, i8TG }, (_k, v) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`,
  );
  ours2.dispose();
  oursI2s.dispose();
  await theirs.dispose();
  await llama.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
