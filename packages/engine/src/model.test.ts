import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from './model.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const MODEL = path.resolve(here, '..', '..', '..', 'models', 'tinystories-bitnet-b158-target-5m-tq2_0.gguf');

async function lastLogits(m: Model, text: string): Promise<Float32Array> {
  const ctx = await m.createContext({ contextSize: 64 });
  const seq = ctx.getSequence();
  const [row] = await ctx.evaluate(seq.id, m.tokenize(text), 'last');
  const copy = row!.slice();
  ctx.dispose();
  return copy;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

describe('loadModel({ roundLikeLlamaCpp })', () => {
  let plain: Model;
  let like: Model;
  beforeAll(async () => {
    plain = await loadModel(MODEL);
    like = await loadModel(MODEL, { roundLikeLlamaCpp: true });
  });
  afterAll(() => {
    plain.dispose();
    like.dispose();
  });

  it('changes the logits in the last bits only (f16 roundings, another float order)', async () => {
    for (const text of ['Once upon a time', 'The little dog was sad because']) {
      const a = await lastLogits(plain, text);
      const b = await lastLogits(like, text);
      expect(cosine(a, b)).toBeGreaterThan(0.9999);
      let differ = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
      expect(differ).toBeGreaterThan(0); // the mode is applied
    }
  });

  it('gives the same tokens batched as one sequence at a time', async () => {
    const prompts = ['Once upon a time', 'Lily and Ben went to the park. They'];
    const opts = { maxTokens: 16, temperature: 0, stopOnEog: false };
    const ctx1 = await like.createContext({ contextSize: 64 });
    const alone: number[][] = [];
    for (const p of prompts) {
      const seq = ctx1.getSequence();
      alone.push((await seq.complete(p, opts)).tokens);
      seq.dispose();
    }
    ctx1.dispose();
    const ctx2 = await like.createContext({ contextSize: 64, sequences: 2 });
    const batched = await Promise.all(prompts.map((p) => ctx2.getSequence().complete(p, opts)));
    ctx2.dispose();
    expect(batched.map((r) => r.tokens)).toEqual(alone);
  });

  it('rejects a non-boolean and the lookup-table kernel (it has no llama.cpp float order)', async () => {
    await expect(loadModel(MODEL, { roundLikeLlamaCpp: 'yes' as never })).rejects.toThrow(TypeError);
    await expect(loadModel(MODEL, { roundLikeLlamaCpp: true, ternaryKernel: 'lut' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
