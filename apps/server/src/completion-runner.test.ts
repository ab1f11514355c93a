import type { GenerateOptions, GenerationChunk, GenerationResult, Token } from '@ternion/engine';
import { describe, expect, it } from 'vitest';
import { type ChoiceDelta, runChoices } from './completion-runner.js';
import type { ServerEngine, ServerSequence } from './engine-host.js';

/**
 * A scripted engine: each sequence yields the given chunks, then returns. `live` counts undisposed
 * sequences (what the real engine's KV blocks would follow).
 */
function scripted(chunks: GenerationChunk[], result: Partial<GenerationResult> = {}, failAt = -1) {
  const state = { live: 0, returned: 0 };
  const engine = {
    getSequence(): ServerSequence {
      state.live++;
      return {
        dispose: () => {
          state.live--;
        },
        generate: (_input: string | readonly Token[], _options: GenerateOptions) =>
          (async function* () {
            try {
              for (const [i, c] of chunks.entries()) {
                if (i === failAt) throw new Error('fault');
                yield c;
              }
              return {
                text: chunks.map((c) => c.text).join(''),
                tokens: [],
                finishReason: 'length',
                promptTokens: 3,
                completionTokens: chunks.length,
                ...result,
              } as GenerationResult;
            } finally {
              state.returned++;
            }
          })(),
      };
    },
  } as unknown as ServerEngine;
  return { engine, state };
}

const chunk = (token: number, text: string, logprob = -1): GenerationChunk => ({
  token: token as Token,
  text,
  logprob,
});
const job = (index: number, maxTokens: number, keepTokens: boolean) => ({
  index,
  prompt: [1 as Token],
  options: { maxTokens },
  keepTokens,
});
/** The detokenizer's last chunk: held-back text without a token of its own. */
const flush = (token: number, text: string): GenerationChunk => ({
  token: token as Token,
  text,
  logprob: Number.NaN,
  flush: true,
});
const never = new AbortController().signal;

describe('runChoices', () => {
  it('joins pending tokens to the next text; the final flush is text only', async () => {
    // Token 2 has no text yet (half a character); the last chunk is the detokenizer's flush.
    const { engine, state } = scripted([chunk(1, 'a'), chunk(2, ''), chunk(3, 'bc'), flush(3, 'd')]);
    const deltas: ChoiceDelta[] = [];
    const [out] = await runChoices(engine, [job(0, 3, false)], never, (d) => {
      deltas.push(d);
    });
    expect(deltas.map((d) => d.text)).toEqual(['a', 'bc', 'd']);
    expect(out!.text).toBe('abcd');
    expect(out!.finishReason).toBe('length');
    expect(out!.tokens).toBeUndefined();
    expect(state.live).toBe(0);
  });

  it('with logprobs reports every token as it comes and keeps exactly maxTokens tokens', async () => {
    const { engine } = scripted([chunk(1, 'a'), chunk(2, ''), chunk(3, 'bc'), flush(3, 'd')]);
    const deltas: ChoiceDelta[] = [];
    const [out] = await runChoices(engine, [job(0, 3, true)], never, (d) => {
      deltas.push({ ...d, tokens: [...d.tokens] });
    });
    expect(deltas.map((d) => [d.text, d.tokens.map((t) => t.token)])).toEqual([
      ['a', [1]],
      ['', [2]],
      ['bc', [3]],
      ['d', []],
    ]);
    expect(out!.tokens!.map((t) => t.token)).toEqual([1, 2, 3]);
  });

  it('a flush after an early stop (end-of-generation token) is not a token: not kept, not counted', async () => {
    // Stopped by EOG after 2 of 10 tokens while 'c' was held back (a possible stop string).
    const { engine } = scripted([chunk(1, 'a'), chunk(2, 'b'), flush(2, 'c')], {
      finishReason: 'stop',
      completionTokens: 3,
    });
    let generated = 0;
    const [out] = await runChoices(engine, [job(0, 10, true)], never, undefined, {
      generated: () => generated++,
    });
    expect(out!.text).toBe('abc');
    expect(out!.tokens!.map((t) => t.token)).toEqual([1, 2]);
    expect(generated).toBe(2);
  });

  it('maps stop / abort finish reasons', async () => {
    const stop = scripted([chunk(1, 'a')], { finishReason: 'stop' });
    expect((await runChoices(stop.engine, [job(0, 5, false)], never))[0]!.finishReason).toBe('stop');
    const abort = scripted([chunk(1, 'a')], { finishReason: 'abort' });
    const [cut] = await runChoices(abort.engine, [job(0, 5, false)], never);
    expect(cut!.finishReason).toBe('length');
    expect(cut!.aborted).toBe(true);
  });

  it('a sink that throws (client gone) closes the generator and disposes the sequence', async () => {
    const { engine, state } = scripted([chunk(1, 'a'), chunk(2, 'b'), chunk(3, 'c')]);
    await expect(
      runChoices(engine, [job(0, 3, false), job(1, 3, false)], never, () => {
        throw new Error('gone');
      }),
    ).rejects.toThrow('gone');
    expect(state.live).toBe(0);
    expect(state.returned).toBe(2);
  });

  it('an engine fault in one choice aborts the others and is rethrown once all are disposed', async () => {
    const { engine, state } = scripted([chunk(1, 'a'), chunk(2, 'b')], {}, 1);
    await expect(runChoices(engine, [job(0, 3, false), job(1, 3, false)], never)).rejects.toThrow('fault');
    expect(state.live).toBe(0);
  });
});
