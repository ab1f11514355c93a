/**
 * The acceptance test of the model runtime: Ternion against llama.cpp (node-llama-cpp 3.21.1) on the same
 * GGUF files — the shipped trained models and synthesized random-weight models at the `tiny` and `700m`
 * shapes, in TQ2_0 and TQ1_0.
 *
 * Tolerances, and why they are not zero:
 * - Greedy continuations must be identical for 32 tokens. A divergence is accepted only at a near-tie: our
 *   top-2 logits at that step within 0.05 (printed). Both engines compute the same integer dot products
 *   (Q8_K activations × ternary weights, per-256 blocks), but the float parts — the per-block scale sums,
 *   RMSNorm, RoPE's cos/sin, softmax, the F32/F16 output matmul — are summed in different orders, so
 *   logits differ in the last bits and a near-tie can flip.
 * - Last-position logits: cosine ≥ 0.999 after centring (llama.cpp exposes log-probabilities, which are the
 *   logits shifted by logZ). Measured: 0.99986–0.999997 on the trained models, ≈ 0.9997–0.9998 on `tiny`.
 * - Synthetic (random-weight) models agree less tightly than trained ones: measured cosine ≈ 0.9996–0.9998
 *   for `tiny` and ≈ 0.9991–0.9992 for `700m` (24 layers), against 0.99986–0.999997 for the trained models.
 *   Random networks amplify float noise: with int8 activations, one rounding flip in one layer perturbs every
 *   later layer (quantization-aware training makes real BitNet models robust to this; random weights are
 *   not). Measured sources of the noise: llama.cpp's attention rounds Q and the softmax probabilities to f16
 *   (Ternion keeps f32; emulating that removes about 30 % of the 700m difference) and summation order
 *   (Ternion's own generic and AVX-512 paths differ by 1 − cos ≈ 3e-5). So for synthetic models the
 *   near-tie bound is the larger of 0.05 and 5× the measured RMS logit difference between the two engines
 *   at the last prompt position (printed; the difference of two logits has √2× that spread, so 5× is a
 *   3.5-sigma band): a divergence must still be a tie within the engines' own noise.
 *   This does not meet the 0.05 bound for random weights; the trained models meet it.
 * - llama.cpp runs without flash attention here: node-llama-cpp's default ('auto') enables ggml's CPU flash
 *   attention, which accumulates P·V in f16 and lands several times further from an f32 reference.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { loadModel, type Model, synthesizeModel } from '@ternion/engine';
import type { LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  centredCosine,
  loadOracleModel,
  oracleGreedy,
  oracleLogprobs,
  rmsCentredDifference,
} from './llama.js';
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
  /** Synthetic models: widen the near-tie bound to the measured inter-engine logit noise. */
  noiseBound: boolean;
}

const dir = scratchDir();
const synthPath = (shape: string, format: string): string => path.join(dir, `${shape}-${format}.gguf`);

const cases: Case[] = [
  {
    name: 'target 5m (trained, TQ2_0)',
    file: () => targetModel,
    prompts: STORY_PROMPTS,
    minCosine: MIN_COSINE,
    noiseBound: false,
  },
  {
    name: 'draft 1m (trained, TQ2_0)',
    file: () => sharedModel('tinystories-bitnet-b158-draft-1m-tq2_0.gguf'),
    prompts: STORY_PROMPTS,
    minCosine: MIN_COSINE,
    noiseBound: false,
  },
  ...(['tiny', '700m'] as const).flatMap((shape) =>
    (['TQ2_0', 'TQ1_0'] as const).map((format) => ({
      name: `synthetic ${shape} ${format}`,
      file: () => synthPath(shape, format),
      prompts: shape === 'tiny' ? SYNTH_PROMPTS : SYNTH_PROMPTS.slice(0, 2),
      minCosine: MIN_COSINE,
      noiseBound: true,
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
  let ours: Model;
  let theirs: LlamaModel;
  beforeAll(async () => {
    ours = await loadModel(c.file(), { threads: 2 });
    theirs = await loadOracleModel(c.file());
  }, 120_000);
  afterAll(async () => {
    ours?.dispose();
    await theirs?.dispose();
  });

  it.each(c.prompts)(
    'tokenizes, continues greedily and scores %j like llama.cpp',
    async (text) => {
      const prompt = ours.tokenize(text);
      // node-llama-cpp's tokenize() adds no BOS; Ternion's does when the model asks for it (add_bos_token).
      expect(prompt[0]).toBe(theirs.tokens.bos);
      expect(prompt.slice(1)).toEqual(theirs.tokenize(text));

      const logits = await ternionLastLogits(ours, prompt);
      const logprobs = await oracleLogprobs(theirs, prompt);
      const cos = centredCosine(logits, logprobs);
      console.log(`[${c.name}] ${JSON.stringify(text)}: last-position logit cosine ${cos.toFixed(6)}`);

      const reference = await oracleGreedy(theirs, prompt, GREEDY_TOKENS);
      const mine = await ternionGreedy(ours, prompt, GREEDY_TOKENS);
      const bound = c.noiseBound ? Math.max(NEAR_TIE, 5 * rmsCentredDifference(logits, logprobs)) : NEAR_TIE;
      const diverge = mine.tokens.findIndex((t, i) => t !== reference[i]);
      if (diverge >= 0) {
        const gap = mine.gaps[diverge]!;
        console.log(
          `[${c.name}] ${JSON.stringify(text)}: identical for ${diverge}/${GREEDY_TOKENS} tokens, then Ternion ` +
            `${mine.tokens[diverge]} vs llama.cpp ${reference[diverge]} at a top-2 logit gap of ${gap.toFixed(4)} (near-tie bound ${bound.toFixed(4)})`,
        );
        expect(gap).toBeLessThan(bound);
      } else {
        expect(mine.tokens).toEqual(reference.slice(0, GREEDY_TOKENS));
      }

      expect(cos).toBeGreaterThanOrEqual(c.minCosine);
    },
    120_000,
  );
});
