/**
 * The acceptance test of the model runtime: Ternion against llama.cpp (node-llama-cpp 3.21.1) on the same
 * GGUF files — the shipped trained models and synthesized random-weight models at the `tiny` and `700m`
 * shapes, in TQ2_0 and TQ1_0.
 *
 * Two ways of computing, two checks:
 * - Ternion's default numerics (f32 attention and logits, its own summation order): last-position logits
 *   within cosine 0.999 of llama.cpp's (after centring: llama.cpp exposes log-probabilities, the logits
 *   shifted by logZ). Measured 0.99986–0.999997 on the trained models, ≈ 0.9996–0.9998 on `tiny`,
 *   ≈ 0.9991–0.9992 on `700m`. The gap is llama.cpp's rounding, not a bug: its non-flash attention rounds Q and
 *   the softmax probabilities to f16 (it multiplies the f16 K/V cache by f16 copies of them), it rounds the
 *   final hidden state to f16 before an F16 output matrix, and it sums per-block dot products in 8 lanes.
 *   Random (non-QAT) networks amplify any such difference: one int8 rounding flip perturbs every later layer.
 * - `roundLikeLlamaCpp: true` (loadModel option) reproduces those three roundings and orders. Then greedy
 *   continuations must be identical to llama.cpp's for 32 tokens, a divergence being acceptable only at a
 *   near-tie — our top-2 logits within 0.05 (checked and printed) — and last-position logits within cosine
 *   0.999 (measured 1.000000 on the trained and `tiny` models, ≈ 0.9995 on the 24-layer `700m`, whose
 *   remaining difference is summation order inside attention and ggml's own SIMD exp/SiLU approximations).
 * - llama.cpp runs without flash attention here: node-llama-cpp's default ('auto') enables ggml's CPU flash
 *   attention, which accumulates P·V in f16 and lands several times further from an f32 reference.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { loadModel, type Model, synthesizeModel } from '@ternion/engine';
import type { LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { centredCosine, loadOracleModel, oracleGreedy, oracleLogprobs } from './llama.js';
import { scratchDir, sharedModel, targetModel } from './paths.js';

const GREEDY_TOKENS = 32;
const NEAR_TIE = 0.05;
const MIN_COSINE = 0.999;

const STORY_PROMPTS = [
  'Once upon a time',
  'Lily and Ben went to the park. They',
  'The little dog was sad because',
  'One day, a girl named Mia found a big box. Inside the box',
];
const SYNTH_PROMPTS = ['the quick brown fox', 'hello world, this is a test', 'abc def ghi jkl'];

interface Case {
  name: string;
  file: () => string;
  prompts: string[];
  minCosine: number;
}

const dir = scratchDir();
const synthPath = (shape: string, format: string): string => path.join(dir, `${shape}-${format}.gguf`);

const cases: Case[] = [
  {
    name: 'target 5m (trained, TQ2_0)',
    file: () => targetModel,
    prompts: STORY_PROMPTS,
    minCosine: MIN_COSINE,
  },
  {
    name: 'draft 1m (trained, TQ2_0)',
    file: () => sharedModel('tinystories-bitnet-b158-draft-1m-tq2_0.gguf'),
    prompts: STORY_PROMPTS,
    minCosine: MIN_COSINE,
  },
  ...(['tiny', '700m'] as const).flatMap((shape) =>
    (['TQ2_0', 'TQ1_0'] as const).map((format) => ({
      name: `synthetic ${shape} ${format}`,
      file: () => synthPath(shape, format),
      prompts: shape === 'tiny' ? SYNTH_PROMPTS : SYNTH_PROMPTS.slice(0, 2),
      minCosine: MIN_COSINE,
    })),
  ),
];

beforeAll(async () => {
  for (const shape of ['tiny', '700m'] as const) {
    for (const format of ['TQ2_0', 'TQ1_0'] as const) {
      await synthesizeModel({ shape, format, seed: 7 }).write(synthPath(shape, format));
    }
  }
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Ternion's greedy continuation, with the gap between its top-2 logits at every step. */
async function ternionGreedy(
  model: Model,
  prompt: number[],
  n: number,
): Promise<{ tokens: number[]; gaps: number[] }> {
  const ctx = await model.createContext({ contextSize: prompt.length + n + 8 });
  try {
    const seq = ctx.getSequence();
    const tokens: number[] = [];
    const gaps: number[] = [];
    for await (const c of seq.generate(prompt as never[], {
      maxTokens: n,
      temperature: 0,
      topLogprobs: 2,
      stopOnEog: false,
    })) {
      if (tokens.length === n) break;
      tokens.push(c.token);
      const top = c.topLogprobs!;
      gaps.push(top[0]!.logprob - top[1]!.logprob);
    }
    return { tokens, gaps };
  } finally {
    ctx.dispose();
  }
}

async function ternionLastLogits(model: Model, prompt: number[]): Promise<Float32Array> {
  const ctx = await model.createContext({ contextSize: prompt.length + 8 });
  try {
    const seq = ctx.getSequence();
    const [row] = await ctx.evaluate(seq.id, prompt as never[], 'last');
    return row!;
  } finally {
    ctx.dispose();
  }
}

describe.each(cases)('$name vs llama.cpp', (c) => {
  let ours: Model; // default numerics
  let like: Model; // roundLikeLlamaCpp
  let theirs: LlamaModel;
  beforeAll(async () => {
    ours = await loadModel(c.file(), { threads: 2 });
    like = await loadModel(c.file(), { threads: 2, roundLikeLlamaCpp: true });
    theirs = await loadOracleModel(c.file());
  }, 120_000);
  afterAll(async () => {
    ours?.dispose();
    like?.dispose();
    await theirs?.dispose();
  });

  it.each(c.prompts)(
    'tokenizes, continues greedily and scores %j like llama.cpp',
    async (text) => {
      const prompt = ours.tokenize(text);
      // node-llama-cpp's tokenize() adds no BOS; Ternion's does when the model asks for it (add_bos_token).
      expect(prompt[0]).toBe(theirs.tokens.bos);
      expect(prompt.slice(1)).toEqual(theirs.tokenize(text));

      const logprobs = await oracleLogprobs(theirs, prompt);
      const cos = centredCosine(await ternionLastLogits(ours, prompt), logprobs);
      const cosLike = centredCosine(await ternionLastLogits(like, prompt), logprobs);
      console.log(
        `[${c.name}] ${JSON.stringify(text)}: last-position logit cosine ${cos.toFixed(6)} (default), ` +
          `${cosLike.toFixed(6)} (roundLikeLlamaCpp)`,
      );
      expect(cos).toBeGreaterThanOrEqual(c.minCosine);
      expect(cosLike).toBeGreaterThanOrEqual(c.minCosine);

      const reference = await oracleGreedy(theirs, prompt, GREEDY_TOKENS);
      const mine = await ternionGreedy(like, prompt, GREEDY_TOKENS);
      const diverge = mine.tokens.findIndex((t, i) => t !== reference[i]);
      if (diverge >= 0) {
        const gap = mine.gaps[diverge]!;
        console.log(
          `[${c.name}] ${JSON.stringify(text)}: identical for ${diverge}/${GREEDY_TOKENS} tokens, then Ternion ` +
            `${mine.tokens[diverge]} vs llama.cpp ${reference[diverge]} at a top-2 logit gap of ${gap.toFixed(4)} (near-tie bound ${NEAR_TIE})`,
        );
        expect(gap).toBeLessThan(NEAR_TIE);
      } else {
        console.log(
          `[${c.name}] ${JSON.stringify(text)}: identical for ${GREEDY_TOKENS}/${GREEDY_TOKENS} tokens`,
        );
        expect(mine.tokens).toEqual(reference.slice(0, GREEDY_TOKENS));
      }
    },
    120_000,
  );
});
