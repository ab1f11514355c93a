import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { asSeqId, type Token } from '@ternion/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Context } from './context.js';
import { loadModel, type Model } from './model.js';
import { type GenerateOptions, type GenerationChunk, type GenerationResult, Sequence } from './sequence.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const MODEL = path.resolve(here, '..', '..', '..', 'models', 'tinystories-bitnet-b158-target-5m-tq2_0.gguf');
/** `</s>`, the tiny model's only end-of-generation token. */
const EOS = 2 as Token;

let model: Model;
beforeAll(async () => {
  model = await loadModel(MODEL);
});
afterAll(() => model.dispose());

/** Token ids of `text` as a sequence's first words (SentencePiece adds a leading space). */
const ids = (text: string): Token[] => model.tokenize(text, { addBos: false });
/** The "." token as it follows a word. */
const dot = (): Token => ids('happy.').at(-1)!;

/**
 * A sequence on a stand-in context whose every evaluation returns logits that make greedy sampling pick the
 * next token of `script` (the last one repeats): the model's tokenizer, no forward pass, any token order.
 */
function scriptedSequence(script: readonly Token[]): Sequence {
  const tokens: Token[] = [];
  let step = 0;
  const context = {
    model,
    isDisposed: false,
    numTokens: () => tokens.length,
    tokensOf: () => tokens,
    releaseSequence: () => {},
    evaluate: async (_seq: unknown, input: readonly Token[]): Promise<Float32Array[]> => {
      tokens.push(...input);
      const row = new Float32Array(model.config.vocabSize); // (vocab) one-hot logits on the scripted token
      row[script[Math.min(step++, script.length - 1)]!] = 20;
      return [row];
    },
  };
  return new Sequence(context as unknown as Context, asSeqId(0));
}

/** Runs a generation to its end; `onChunk` may act after each chunk (e.g. abort). */
async function run(
  it: AsyncGenerator<GenerationChunk, GenerationResult, undefined>,
  onChunk: (chunk: GenerationChunk, n: number) => void = () => {},
): Promise<{ chunks: GenerationChunk[]; result: GenerationResult }> {
  const chunks: GenerationChunk[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return { chunks, result: r.value };
    chunks.push(r.value);
    onChunk(r.value, chunks.length);
  }
}

/** The streamed text and the result's text are the same text. */
function streamedText(chunks: readonly GenerationChunk[], result: GenerationResult): string {
  const streamed = chunks.map((c) => c.text).join('');
  expect(streamed).toBe(result.text);
  return streamed;
}

describe('Sequence.generate: text held back for a possible stop string', () => {
  const opts: GenerateOptions = { stop: ['END'], maxTokens: 20, logprobs: true };

  it('is returned when an end-of-generation token ends the generation', async () => {
    const { chunks, result } = await run(scriptedSequence([...ids('Hello E'), EOS]).generate('x', opts));
    expect(streamedText(chunks, result)).toBe(' Hello E');
    expect(result.finishReason).toBe('stop');
    expect(result.tokens.at(-1)).toBe(EOS);
    // the held "E" comes in one last chunk, marked as text without a token of its own
    expect(chunks.at(-1)).toMatchObject({ text: 'E', flush: true });
    expect(chunks.at(-1)!.logprob).toBeNaN();
    expect(chunks.slice(0, -1).every((c) => c.flush === undefined && !Number.isNaN(c.logprob))).toBe(true);
  });

  it('is returned on ChatML models, whose end tag is a stop string (a reply ending in "<")', async () => {
    const seq = scriptedSequence([...ids('Hi <'), EOS]);
    const { chunks, result } = await run(seq.generate('x', { stop: ['<|im_end|>'] }));
    expect(streamedText(chunks, result)).toBe(' Hi <');
  });

  it('is returned when a stop token id ends the generation, without the stop token text', async () => {
    const seq = scriptedSequence([...ids('Hello E'), dot(), ...ids('more')]);
    const { chunks, result } = await run(seq.generate('x', { ...opts, stopTokenIds: [dot()] }));
    expect(streamedText(chunks, result)).toBe(' Hello E');
    expect(result.finishReason).toBe('stop');
    expect(result.tokens.at(-1)).toBe(dot());
  });

  it('is returned when maxTokens ends the generation', async () => {
    const script = ids('Hello E');
    const seq = scriptedSequence([...script, ...ids('ND')]);
    const { chunks, result } = await run(seq.generate('x', { ...opts, maxTokens: script.length }));
    expect(streamedText(chunks, result)).toBe(' Hello E');
    expect(result.finishReason).toBe('length');
  });

  it('is returned when the generation is aborted', async () => {
    const script = ids('Hello E');
    const abort = new AbortController();
    const seq = scriptedSequence([...script, ...ids('ND')]);
    const { chunks, result } = await run(seq.generate('x', { ...opts, signal: abort.signal }), (_, n) => {
      if (n === script.length) abort.abort();
    });
    expect(streamedText(chunks, result)).toBe(' Hello E');
    expect(result.finishReason).toBe('abort');
  });

  it('is dropped when the stop string completes (it is part of the stop string)', async () => {
    const seq = scriptedSequence([...ids('Hello END more'), EOS]);
    const { chunks, result } = await run(seq.generate('x', opts));
    expect(streamedText(chunks, result)).toBe(' Hello ');
    expect(result.finishReason).toBe('stop');
    expect(chunks.some((c) => c.flush)).toBe(false);
  });

  it('a stop string that completes within minTokens does not stop; one completing after it does', async () => {
    const script = ids('END and END and');
    const end = ids('END').length; // "▁E" "N" "D"
    // the first "END" is complete with token `end`, not after minTokens = end: the second one stops
    const within = await run(scriptedSequence(script).generate('x', { stop: ['END'], minTokens: end }));
    expect(streamedText(within.chunks, within.result)).toBe(' END and ');
    expect(within.result.finishReason).toBe('stop');
    // minTokens = end - 1: the first "END" begins before and completes after it, so it stops
    const across = await run(scriptedSequence(script).generate('x', { stop: ['END'], minTokens: end - 1 }));
    expect(streamedText(across.chunks, across.result)).toBe(' ');
    expect(across.result.tokens).toHaveLength(end);
  });
});

describe('Sequence.generate on the trained tiny model', () => {
  // Greedy from this prompt: "." then </s> (then, past it, <s> and a new story).
  const THE_END = 'She was happy. The end';
  const greedy = { temperature: 0 } as const;

  async function generate(prompt: string, options: GenerateOptions) {
    const ctx = await model.createContext({ contextSize: 64 });
    try {
      return await run(ctx.getSequence().generate(prompt, options));
    } finally {
      ctx.dispose();
    }
  }

  it('keeps a held-back stop prefix when the model ends with </s>', async () => {
    const { chunks, result } = await generate(THE_END, { ...greedy, stop: ['.END'] });
    expect(result.tokens).toEqual([dot(), EOS]);
    expect(result.finishReason).toBe('stop');
    expect(streamedText(chunks, result)).toBe('.');
  });

  it('stopOnEog: false generates past </s>', async () => {
    const stopped = await generate(THE_END, { ...greedy, maxTokens: 8 });
    expect(stopped.result.tokens).toEqual([dot(), EOS]);
    const { chunks, result } = await generate(THE_END, { ...greedy, maxTokens: 8, stopOnEog: false });
    expect(result.tokens).toHaveLength(8);
    expect(result.tokens.slice(0, 2)).toEqual([dot(), EOS]);
    expect(result.finishReason).toBe('length');
    // </s> (and <s> after it) have no text; the story after them does
    const text = streamedText(chunks, result);
    expect(text).toBe(model.createDetokenizer().pushAll(result.tokens));
    expect(text.length).toBeGreaterThan(4);
  });

  it('minTokens bans </s> until that many tokens are out', async () => {
    const { result } = await generate(THE_END, { ...greedy, minTokens: 3, maxTokens: 8 });
    expect(result.tokens.length).toBeGreaterThanOrEqual(4);
    expect(result.tokens.slice(0, 3)).not.toContain(EOS);
    // with </s> pushed to the top, it comes exactly at the first allowed position
    const forced = await generate(THE_END, { ...greedy, minTokens: 3, logitBias: { [EOS]: 50 } });
    expect(forced.result.tokens).toHaveLength(4);
    expect(forced.result.tokens.slice(0, 3)).not.toContain(EOS);
    expect(forced.result.tokens[3]).toBe(EOS);
    expect(forced.result.finishReason).toBe('stop');
    // minTokens = 0 (the default) lets it end at once
    const immediate = await generate(THE_END, { ...greedy, logitBias: { [EOS]: 50 } });
    expect(immediate.result.tokens).toEqual([EOS]);
  });

  it('minTokens holds back stop strings: an early match is text, a later one stops', async () => {
    // greedy: ", there was a little girl named Lily. She loved to ..."
    const reference = await generate('Once upon a time', { ...greedy, maxTokens: 16 });
    expect(reference.result.text.startsWith(',')).toBe(true);
    const early = await generate('Once upon a time', { ...greedy, maxTokens: 16, stop: [','] });
    expect(early.result.text).toBe('');
    const { chunks, result } = await generate('Once upon a time', {
      ...greedy,
      maxTokens: 16,
      stop: [','],
      minTokens: 3,
    });
    const text = streamedText(chunks, result);
    expect(text.startsWith(',')).toBe(true);
    expect(reference.result.text.startsWith(text)).toBe(true);
    expect(text.slice(1)).not.toContain(',');
    expect(result.tokens.length).toBeGreaterThan(3);
  });

  it('stopTokenIds stop at that token and leave its text out; minTokens bans it early', async () => {
    const reference = await generate('Once upon a time', { ...greedy, maxTokens: 8 });
    const t = reference.result.tokens[3]!;
    expect(reference.result.tokens.slice(0, 3)).not.toContain(t);
    const { chunks, result } = await generate('Once upon a time', {
      ...greedy,
      maxTokens: 8,
      stopTokenIds: [t],
    });
    expect(result.tokens).toEqual(reference.result.tokens.slice(0, 4));
    expect(result.finishReason).toBe('stop');
    const detok = model.createDetokenizer();
    expect(streamedText(chunks, result)).toBe(detok.pushAll(reference.result.tokens.slice(0, 3)));
    const late = await generate('Once upon a time', {
      ...greedy,
      maxTokens: 8,
      stopTokenIds: [t],
      minTokens: 4,
    });
    expect(late.result.tokens.slice(0, 4)).not.toContain(t);
    expect(late.result.tokens.length).toBeGreaterThan(4);
  });

  it("penaltyScope 'generated' leaves the prompt's tokens alone for presence, and never repeats an output token", async () => {
    // the greedy "." after the prompt is in the prompt ("happy.")
    const opts = { ...greedy, maxTokens: 12, presencePenalty: 100, stopOnEog: false } as const;
    const generated = await generate(THE_END, { ...opts, penaltyScope: 'generated' });
    expect(generated.result.tokens[0]).toBe(dot());
    expect(new Set(generated.result.tokens).size).toBe(generated.result.tokens.length);
    const windowed = await generate(THE_END, opts);
    expect(windowed.result.tokens[0]).not.toBe(dot());
  });

  it('rejects bad minTokens and stopTokenIds with INVALID_ARGUMENT naming the option', async () => {
    const vocab = model.config.vocabSize;
    for (const bad of [
      { minTokens: -1 },
      { minTokens: 1.5 },
      { minTokens: 9, maxTokens: 8 },
      { minTokens: Number.NaN },
    ]) {
      await expect(generate('Once', bad)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/minTokens/),
      });
    }
    for (const bad of [[vocab], [-1], [1.5], 7]) {
      await expect(generate('Once', { stopTokenIds: bad as Token[] })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/stopTokenIds/),
      });
    }
  });
});
