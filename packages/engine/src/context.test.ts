import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from './model.js';
import type { GenerationChunk } from './sequence.js';

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

  it("returns every row of an 'all' evaluation even when the prompt's blocks are in the prefix cache", async () => {
    const ctx = await model.createContext({ contextSize: 128, sequences: 2, blockSize: 16 });
    const prompt = model.tokenize(
      'Once upon a time there was a little girl named Lily. She loved to play with her toys and eat snacks.',
    );
    expect(prompt.length).toBeGreaterThan(17);
    const a = ctx.getSequence();
    const first = await ctx.evaluate(a.id, prompt, 'all'); // (prompt, vocab)
    a.dispose(); // its full blocks stay in the prefix cache
    const b = ctx.getSequence();
    const second = await ctx.evaluate(b.id, prompt, 'all');
    // The cache may not serve rows whose logits are wanted: every one is computed again, exactly as before.
    expect(second.length).toBe(prompt.length);
    for (let i = 0; i < prompt.length; i++) expect(Array.from(second[i]!)).toEqual(Array.from(first[i]!));
    // A continuation asks only for its new rows: the prompt's full blocks are served from the cache.
    const cachedBefore = ctx.stats.prefixCachedTokens;
    b.dispose();
    const d = ctx.getSequence();
    await ctx.evaluate(d.id, prompt, 'last');
    expect(ctx.stats.prefixCachedTokens - cachedBefore).toBe(Math.floor((prompt.length - 1) / 16) * 16);
    ctx.dispose();
  });

  it('computes a prompt once when several sequences submit it together (n > 1), the rest wait for its blocks', async () => {
    const prompt = model.tokenize(
      'Once upon a time there was a little girl named Lily. She loved to play with her toys and eat snacks. One day, Lily went to the park with her mom and saw a big red ball.',
    );
    const shared = Math.floor((prompt.length - 1) / 16) * 16; // full blocks the cache can serve
    expect(shared).toBeGreaterThanOrEqual(32);
    const opts = { maxTokens: 6, temperature: 0, stopOnEog: false } as const;
    const ctx = await model.createContext({ contextSize: 128, sequences: 3, blockSize: 16 });
    const seqs = [ctx.getSequence(), ctx.getSequence(), ctx.getSequence()];
    const results = await Promise.all(seqs.map((q) => q.complete(prompt, opts)));
    // One sequence computed the prompt; the other two took its full blocks from the prefix cache.
    expect(ctx.stats.prefixCachedTokens).toBe(2 * shared);
    expect(results[1]!.tokens).toEqual(results[0]!.tokens);
    expect(results[2]!.tokens).toEqual(results[0]!.tokens);
    ctx.dispose();
    // A prompt shorter than a block shares nothing cacheable: nobody waits.
    const short = await model.createContext({ contextSize: 64, sequences: 2, blockSize: 16 });
    const few = prompt.slice(0, 10);
    const stepsOf = async () => {
      const before = short.stats.steps;
      await Promise.all(
        [short.getSequence(), short.getSequence()].map((q) => q.complete(few, opts).then(() => q.dispose())),
      );
      return short.stats.steps - before;
    };
    expect(await stepsOf()).toBe(opts.maxTokens); // both prefilled in the first step, then decoded together
    short.dispose();
  });

  it('a sequence waiting for shared prompt blocks goes on when the one computing them is aborted or preempted', async () => {
    const prompt = model.tokenize(
      'Once upon a time there was a little girl named Lily. She loved to play with her toys and eat snacks. One day, Lily went to the park with her mom and saw a big red ball.',
    );
    const opts = { maxTokens: 8, temperature: 0, stopOnEog: false } as const;
    const reference = await (async () => {
      const ctx = await model.createContext({ contextSize: 128 });
      const r = await ctx.getSequence().complete(prompt, opts);
      ctx.dispose();
      return r.tokens;
    })();
    // Aborted: 8-token steps make the first sequence's prefill take several passes; it is cut after the first.
    const ctx = await model.createContext({ contextSize: 128, sequences: 2, blockSize: 16, batchSize: 8 });
    const controller = new AbortController();
    const first = ctx.getSequence().complete(prompt, { ...opts, signal: controller.signal });
    const second = ctx.getSequence().complete(prompt, opts);
    while (ctx.stats.steps < 1) await new Promise((r) => setImmediate(r));
    controller.abort();
    const [a, b] = await Promise.allSettled([first, second]);
    expect(a.status === 'rejected' || (a.status === 'fulfilled' && a.value.finishReason === 'abort')).toBe(
      true,
    );
    expect(b.status).toBe('fulfilled');
    expect((b as PromiseFulfilledResult<{ tokens: number[] }>).value.tokens).toEqual(reference);
    ctx.dispose();
    // Preempted: three sequences of one prompt in a cache that cannot hold them all.
    const small = await model.createContext({
      contextSize: 64,
      sequences: 3,
      blockSize: 16,
      kvCacheTokens: 96,
    });
    const results = await Promise.all([0, 1, 2].map(() => small.getSequence().complete(prompt, opts)));
    for (const r of results) expect(r.tokens).toEqual(reference);
    expect(small.stats.preemptions).toBeGreaterThan(0); // measured 2, with 112 prompt tokens from the cache
    expect(small.stats.prefixCachedTokens).toBeGreaterThan(0);
    small.dispose();
  });

  it('profiles forward passes per shape and kernel while profiling is on', async () => {
    const ctx = await model.createContext({ contextSize: 64, sequences: 2 });
    const prompt = model.tokenize('Once upon a time');
    const opts = { maxTokens: 5, temperature: 0, stopOnEog: false } as const;
    const run = (n: number) =>
      Promise.all(
        Array.from({ length: n }, () => {
          const q = ctx.getSequence();
          return q.complete(prompt, opts).finally(() => q.dispose());
        }),
      );
    await run(1); // unprofiled
    expect(ctx.profile()).toEqual([]);
    ctx.setProfiling(true);
    const stepsBefore = ctx.stats.steps;
    const running = run(2);
    expect(() => ctx.profile()).toThrow(/a forward pass is running/);
    await running;
    const profile = ctx.profile();
    // every pass counted once, under its shape; the 2-row decode passes have 2 logit rows
    expect(profile.reduce((n, p) => n + p.passes, 0)).toBe(ctx.stats.steps - stepsBefore);
    const decode = profile.find((p) => p.tokens === 2 && p.logits === 2)!;
    expect(decode.passes).toBe(opts.maxTokens - 1);
    for (const kernel of ['rmsNorm', 'pagedAttention', 'kvWrite', 'embeddingGather']) {
      expect(decode.seconds.get(kernel)).toBeGreaterThan(0);
    }
    const ternary = (decode.seconds.get('ternaryMatmul') ?? 0) + (decode.seconds.get('lutMatmul') ?? 0);
    expect(ternary).toBeGreaterThan(0);
    ctx.setProfiling(false);
    await run(1);
    expect(ctx.profile().reduce((n, p) => n + p.passes, 0)).toBe(
      ctx.stats.steps - stepsBefore - opts.maxTokens,
    );
    ctx.resetProfile();
    expect(ctx.profile()).toEqual([]);
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

  describe('chunked prefill (a prompt longer than batchSize)', () => {
    const LONG =
      'Once upon a time there was a little girl named Lily. She loved to play with her toys and eat snacks. ' +
      'One day, Lily went to the park with her mom and saw a big red ball. She wanted to play with it.';

    /** Greedy tokens with their log-probabilities, then the logits of every prompt position. */
    async function run(options: { batchSize?: number }) {
      const prompt = model.tokenize(LONG);
      const ctx = await model.createContext({ contextSize: 128, ...options });
      const chunks: GenerationChunk[] = [];
      const opts = { maxTokens: 12, temperature: 0, logprobs: true, stopOnEog: false } as const;
      for await (const c of ctx.getSequence().generate(prompt, opts)) chunks.push(c);
      const steps = ctx.stats.steps;
      ctx.dispose();
      // a fresh context: in the same one the prefix cache would serve the prompt's full blocks
      const fresh = await model.createContext({ contextSize: 128, ...options });
      const rows = await fresh.evaluate(fresh.getSequence().id, prompt, 'all'); // (prompt, vocab)
      fresh.dispose();
      return {
        prompt,
        steps,
        rows,
        tokens: chunks.map((c) => c.token),
        logprobs: chunks.map((c) => c.logprob),
      };
    }

    it('gives the same greedy tokens and log-probabilities in chunks of 8 as in one pass', async () => {
      const whole = await run({});
      const chunked = await run({ batchSize: 8 });
      expect(whole.prompt.length).toBeGreaterThan(40);
      // one pass for the prompt vs ceil(n / 8), then one per decoded token
      expect(whole.steps).toBe(12);
      expect(chunked.steps).toBe(Math.ceil(whole.prompt.length / 8) + 11);
      expect(chunked.tokens).toEqual(whole.tokens);
      // Not bit-identical: with 8-row chunks some prompt rows' logits differ in the last float bits (measured:
      // relative Δ logprob ≤ 2.2e-7, Δ logit ≤ 3.2e-7 of the row's largest |logit|; the decode steps after the
      // prompt are identical, so the K/V written is the same). Chunks of 5 or 7 rows happened to be exact.
      for (let i = 0; i < whole.logprobs.length; i++) {
        const a = whole.logprobs[i]!;
        expect(Math.abs(chunked.logprobs[i]! - a)).toBeLessThanOrEqual(1e-4 * Math.abs(a));
      }
      expect(chunked.rows).toHaveLength(whole.prompt.length);
      let worst = 0;
      for (let r = 0; r < whole.rows.length; r++) {
        const a = whole.rows[r]!;
        const b = chunked.rows[r]!;
        let scale = 0;
        let diff = 0;
        for (let i = 0; i < a.length; i++) {
          scale = Math.max(scale, Math.abs(a[i]!));
          diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        }
        worst = Math.max(worst, diff / scale);
      }
      expect(worst).toBeLessThan(1e-4);
    });

    it("shares forward passes between one sequence's long prefill and another's decode", async () => {
      const ctx = await model.createContext({ contextSize: 128, sequences: 2, batchSize: 8 });
      const longPrompt = model.tokenize(LONG);
      const opts = { maxTokens: 20, temperature: 0, stopOnEog: false } as const;
      const decoding = ctx.getSequence();
      const prefilling = ctx.getSequence();
      let decoded = 0;
      let decodedWhenPrefillStarted = 0;
      let prefill: Promise<unknown> | undefined;
      let decodedWhenPrefillEnded = 0;
      for await (const _ of decoding.generate('Once upon a time', opts)) {
        if (++decoded === 2) {
          decodedWhenPrefillStarted = decoded;
          const stepsBefore = ctx.stats.steps;
          // maxTokens 1: the generation ends as soon as the prompt is computed and one token sampled
          prefill = prefilling.complete(longPrompt, { ...opts, maxTokens: 1 }).then(() => {
            decodedWhenPrefillEnded = decoded;
            return ctx.stats.steps - stepsBefore;
          });
        }
      }
      const prefillSteps = (await prefill) as number;
      // Each 8-token step carried 1 decode token and 7 prompt tokens: the prefill took ceil(n / 7) steps,
      // and the decoding sequence got a token from every one of them instead of waiting.
      expect(prefillSteps).toBe(Math.ceil(longPrompt.length / 7));
      expect(decodedWhenPrefillEnded - decodedWhenPrefillStarted).toBeGreaterThanOrEqual(prefillSteps - 1);
      // 20 decode-side steps in all (1 prompt pass + 19 decodes): the prefill added none of its own
      expect(ctx.stats.steps).toBe(20);
      ctx.dispose();
    });
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
