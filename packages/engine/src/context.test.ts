import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from './model.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const MODEL = path.resolve(here, '..', '..', '..', 'models', 'tinystories-bitnet-b158-target-5m-tq2_0.gguf');
const PROMPTS = [
  'Once upon a time',
  'Lily and Ben went to the park. They',
  'The little dog was sad because',
  'One day, a girl',
];

let model: Model;
beforeAll(async () => {
  model = await loadModel(MODEL);
});
afterAll(() => model.dispose());

/** Greedy continuations generated one sequence at a time: the reference for every batched run below. */
async function sequential(n: number): Promise<number[][]> {
  const ctx = await model.createContext({ contextSize: 128 });
  const out: number[][] = [];
  for (const p of PROMPTS) {
    const seq = ctx.getSequence();
    out.push((await seq.complete(p, { maxTokens: n, temperature: 0, stopOnEog: false })).tokens);
    seq.dispose();
  }
  ctx.dispose();
  return out;
}

describe('Context scheduler', () => {
  it('batches concurrent sequences into shared forward passes without changing their output', async () => {
    const reference = await sequential(24);
    const ctx = await model.createContext({ contextSize: 128, sequences: 4 });
    const results = await Promise.all(
      PROMPTS.map((p) => ctx.getSequence().complete(p, { maxTokens: 24, temperature: 0, stopOnEog: false })),
    );
    expect(results.map((r) => r.tokens)).toEqual(reference);
    // 4 prompts + 4 × 23 decode steps sequentially would be 96 passes; batched they share steps.
    expect(ctx.stats.steps).toBeLessThan(40);
    ctx.dispose();
  });

  it('preempts the youngest sequence when the KV cache runs out, recomputes it, and still matches', async () => {
    const reference = await sequential(40);
    // 4 sequences of up to ~50 tokens need ~200 slots; give the cache 128 (8 blocks of 16).
    const ctx = await model.createContext({
      contextSize: 64,
      sequences: 4,
      kvCacheTokens: 128,
      blockSize: 16,
    });
    const results = await Promise.all(
      PROMPTS.map((p) => ctx.getSequence().complete(p, { maxTokens: 40, temperature: 0, stopOnEog: false })),
    );
    expect(results.map((r) => r.tokens)).toEqual(reference);
    expect(ctx.stats.preemptions).toBeGreaterThan(0);
    ctx.dispose();
  });

  it('reuses cached prefix blocks for a repeated prompt and gives the same logits', async () => {
    const ctx = await model.createContext({ contextSize: 128, sequences: 2, blockSize: 16 });
    const prompt = model.tokenize(
      'Once upon a time there was a little girl named Lily. She loved to play with her toys and eat snacks. One day, Lily went to the park with her mom and saw a big red ball.',
    );
    expect(prompt.length).toBeGreaterThan(33);
    const a = ctx.getSequence();
    const [first] = await ctx.evaluate(a.id, prompt, 'last');
    a.dispose();
    const cachedBefore = ctx.stats.prefixCachedTokens;
    const b = ctx.getSequence();
    const [second] = await ctx.evaluate(b.id, prompt, 'last');
    expect(ctx.stats.prefixCachedTokens - cachedBefore).toBe(Math.floor((prompt.length - 1) / 16) * 16);
    expect(ctx.kv.prefixCacheHits).toBeGreaterThan(0);
    expect(Array.from(second!)).toEqual(Array.from(first!));
    ctx.dispose();
  });

  it('an aborted generation stops, rolls back, and frees its blocks on dispose', async () => {
    const ctx = await model.createContext({ contextSize: 128, sequences: 2 });
    const seq = ctx.getSequence();
    const abort = new AbortController();
    let n = 0;
    const it = seq.generate('Once upon a time', {
      maxTokens: 100,
      temperature: 0,
      signal: abort.signal,
      stopOnEog: false,
    });
    let r = await it.next();
    while (!r.done) {
      if (++n === 5) abort.abort();
      r = await it.next();
    }
    expect(r.value.finishReason).toBe('abort');
    expect(r.value.completionTokens).toBeLessThanOrEqual(6);
    expect(ctx.kv.numUsedBlocks).toBeGreaterThan(0);
    seq.dispose();
    expect(ctx.kv.numUsedBlocks).toBe(0);
    ctx.dispose();
  });

  it('rejects tokens outside the vocabulary and contexts that would overflow, with typed errors', async () => {
    const ctx = await model.createContext({ contextSize: 16 });
    const seq = ctx.getSequence();
    await expect(ctx.evaluate(seq.id, [999999 as never], 'last')).rejects.toThrow(RangeError);
    await expect(ctx.evaluate(seq.id, new Array(17).fill(5), 'last')).rejects.toMatchObject({
      code: 'CONTEXT_OVERFLOW',
    });
    expect(() => ctx.getSequence()).toThrow(/sequences are in use/);
    ctx.dispose();
    expect(() => ctx.getSequence()).toThrow(/dispose/);
  });

  it('a chat session keeps history and reuses the common prefix', async () => {
    const { ChatSession } = await import('./chat-session.js');
    const ctx = await model.createContext({ contextSize: 256 });
    const chat = new ChatSession(ctx.getSequence());
    const first = await chat.prompt('Tell me a story.', { maxTokens: 8, temperature: 0 });
    expect(typeof first).toBe('string');
    const before = chat.sequence.numEvaluated;
    await chat.prompt('And then?', { maxTokens: 8, temperature: 0 });
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(chat.sequence.numEvaluated).toBeGreaterThan(before);
    ctx.dispose();
  });
});
