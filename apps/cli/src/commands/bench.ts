import { kernelInfo, type Model } from '@ternion/engine';
import { type Command, Option } from 'commander';
import { loadWithProgress, type ModelFlags } from '../load.js';
import { modelOptions, parseIntArg } from '../options.js';

export interface BenchResult {
  model: string;
  threads: number;
  test: string;
  tokens: number;
  tokensPerSecond: number[];
  median: number;
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** Random token ids below the vocab size, deterministic per seed (not special tokens: skips the first 3). */
function randomTokens(n: number, vocab: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return 3 + ((x >>> 0) % (vocab - 3));
  });
}

/**
 * Prompt processing: `n` tokens evaluated in batches, other random tokens each repetition (the same prompt
 * again would come from the prefix cache), in one context so programs are recorded and buffers touched in the
 * warm-up only; tok/s over the whole prompt.
 */
export async function benchPrompt(
  model: Model,
  n: number,
  reps: number,
  batchSize: number,
): Promise<number[]> {
  const out: number[] = [];
  const ctx = await model.createContext({ contextSize: n + 8, batchSize: Math.min(batchSize, n) });
  try {
    for (let r = 0; r <= reps; r++) {
      const tokens = randomTokens(n, model.config.vocabSize, r + 1) as never[];
      const seq = ctx.getSequence();
      const t0 = performance.now();
      await ctx.evaluate(seq.id, tokens, 'last');
      const dt = (performance.now() - t0) / 1000;
      seq.dispose();
      if (r > 0) out.push(n / dt); // r = 0 warms up (page faults of the mapped weights, program recording)
    }
  } finally {
    ctx.dispose();
  }
  return out;
}

/** Text generation: `n` single-token forward passes on one sequence (greedy tokens do not matter here). */
export async function benchGenerate(model: Model, n: number, reps: number): Promise<number[]> {
  const ctx = await model.createContext({ contextSize: n + 8, batchSize: 8 });
  const out: number[] = [];
  try {
    const tokens = randomTokens(n, model.config.vocabSize, 2) as never[];
    for (let r = 0; r <= reps; r++) {
      const seq = ctx.getSequence();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await ctx.evaluate(seq.id, [tokens[i]!], 'last');
      const dt = (performance.now() - t0) / 1000;
      seq.dispose();
      if (r > 0) out.push(n / dt);
    }
  } finally {
    ctx.dispose();
  }
  return out;
}

export function registerBench(program: Command): void {
  const cmd = program
    .command('bench')
    .description('prompt-processing and generation speed, like llama-bench');
  for (const o of modelOptions()) cmd.addOption(o);
  cmd
    .addOption(
      new Option('-p, --n-prompt <n>', 'prompt tokens')
        .argParser(parseIntArg('--n-prompt', 0, 65536))
        .default(256),
    )
    .addOption(
      new Option('-n, --n-gen <n>', 'generated tokens')
        .argParser(parseIntArg('--n-gen', 0, 65536))
        .default(128),
    )
    .addOption(
      new Option('-r, --reps <n>', 'repetitions (median reported)')
        .argParser(parseIntArg('--reps', 1, 100))
        .default(3),
    )
    .addOption(
      new Option('-b, --batch-size <n>', 'prompt batch size')
        .argParser(parseIntArg('--batch-size', 1, 4096))
        .default(256),
    )
    .option('--json', 'print JSON')
    .option('--verbose', 'also print which kernel each layer uses')
    .action(
      async (
        flags: ModelFlags & {
          nPrompt: number;
          nGen: number;
          reps: number;
          batchSize: number;
          json?: boolean;
          verbose?: boolean;
        },
      ) => {
        const model = await loadWithProgress(flags);
        const results: BenchResult[] = [];
        const name = model.path.split('/').at(-1) ?? model.path;
        if (flags.nPrompt > 0) {
          const tps = await benchPrompt(model, flags.nPrompt, flags.reps, flags.batchSize);
          results.push({
            model: name,
            threads: model.threads,
            test: `pp${flags.nPrompt}`,
            tokens: flags.nPrompt,
            tokensPerSecond: tps,
            median: median(tps),
          });
        }
        if (flags.nGen > 0) {
          const tps = await benchGenerate(model, flags.nGen, flags.reps);
          results.push({
            model: name,
            threads: model.threads,
            test: `tg${flags.nGen}`,
            tokens: flags.nGen,
            tokensPerSecond: tps,
            median: median(tps),
          });
        }
        // Which ternary kernel each projection shape runs, per batch size (the chooser's decisions).
        const ternary = model.kernels
          .choices()
          .map((c) => ({ rows: c.rows, cols: c.cols, n: c.n, kernel: c.kernel }));
        if (flags.json) {
          const verbose = flags.verbose
            ? { kernels: kernelInfo(), ternaryKernelMode: model.kernels.mode, ternary }
            : {};
          process.stdout.write(`${JSON.stringify({ results, ...verbose }, null, 2)}\n`);
        } else {
          process.stdout.write(
            `| model | threads | test | t/s (median of ${flags.reps}) |\n|---|---|---|---|\n`,
          );
          for (const r of results)
            process.stdout.write(`| ${r.model} | ${r.threads} | ${r.test} | ${r.median.toFixed(2)} |\n`);
          if (flags.verbose) {
            process.stdout.write(`\nkernels: ${JSON.stringify(kernelInfo(), null, 2)}\n`);
            process.stdout.write(
              `\nternary kernel per projection shape (mode ${model.kernels.mode}):\n| rows × cols | batch | kernel |\n|---|---|---|\n`,
            );
            for (const t of ternary)
              process.stdout.write(`| ${t.rows} × ${t.cols} | ${t.n} | ${t.kernel} |\n`);
          }
        }
        model.dispose();
      },
    );
}
