import { defaultLimits } from '@ternion/hardening';
import { describe, expect, it } from 'vitest';
import {
  parseCommon,
  type RequestLimits,
  rejectUnsupported,
  resolveMaxTokens,
  resolveMinTokens,
} from './request-options.js';

const limits: RequestLimits = { ...defaultLimits(256), maxChoices: 4, vocabSize: 2048, contextSize: 256 };

function paramOf(fn: () => unknown): string | null {
  try {
    fn();
  } catch (e) {
    return (e as { param: string | null }).param;
  }
  throw new Error('expected a throw');
}

describe('parseCommon', () => {
  it("maps vLLM's extras: ignore_eos, stop_token_ids, repetition_penalty over the whole sequence, top_k -1", () => {
    const r = parseCommon(
      {
        top_k: -1,
        ignore_eos: true,
        stop_token_ids: [2, 7],
        repetition_penalty: 1.2,
        min_tokens: 5,
        presence_penalty: 0.5,
      },
      limits,
    );
    expect(r.sampling).toMatchObject({
      topK: 0,
      stopOnEog: false,
      stopTokenIds: [2, 7],
      repeatPenalty: 1.2,
      penaltyScope: 'generated',
      penaltyLastN: -1,
      presencePenalty: 0.5,
    });
    expect(r.minTokens).toBe(5);
    const plain = parseCommon({}, limits);
    expect(plain.sampling.stopOnEog).toBeUndefined();
    expect(plain.sampling.stopTokenIds).toBeUndefined();
    expect(plain.sampling.repeatPenalty).toBe(1);
    expect(plain.minTokens).toBeUndefined();
    expect(paramOf(() => parseCommon({ stop_token_ids: [1, 2048] }, limits))).toBe('stop_token_ids[1]');
    // Capped like stop and logit_bias: the count is checked before any id.
    const tooMany = Array.from({ length: limits.maxStopTokenIds + 1 }, (_, i) => i % 2048);
    expect(paramOf(() => parseCommon({ stop_token_ids: tooMany }, limits))).toBe('stop_token_ids');
    expect(() => parseCommon({ stop_token_ids: tooMany }, limits)).toThrow(
      `'stop_token_ids' has ${limits.maxStopTokenIds + 1} entries; at most ${limits.maxStopTokenIds} are allowed.`,
    );
    const atCap = tooMany.slice(0, limits.maxStopTokenIds);
    expect(parseCommon({ stop_token_ids: atCap }, limits).sampling.stopTokenIds).toEqual(atCap);
  });

  it('resolveMinTokens: at most the choice max_tokens, named in the 400', () => {
    expect(resolveMinTokens(undefined, 10, 'max_tokens')).toEqual({});
    expect(resolveMinTokens(0, 10, 'max_tokens')).toEqual({});
    expect(resolveMinTokens(10, 10, 'max_tokens')).toEqual({ minTokens: 10 });
    expect(paramOf(() => resolveMinTokens(11, 10, 'max_completion_tokens'))).toBe('min_tokens');
  });

  it('maps OpenAI fields to engine options with OpenAI defaults (temperature 1)', () => {
    const r = parseCommon({}, limits);
    expect(r).toMatchObject({ n: 1, stream: false, includeUsage: false, stop: [], seed: undefined });
    expect(r.sampling).toMatchObject({
      temperature: 1,
      topP: 1,
      topK: 0,
      minP: 0,
      presencePenalty: 0,
      frequencyPenalty: 0,
    });
    const s = parseCommon(
      {
        n: 2,
        temperature: 0,
        top_p: 0.9,
        top_k: 40,
        min_p: 0.05,
        seed: 7,
        stop: 'END',
        stream: true,
        stream_options: { include_usage: true },
        presence_penalty: 0.5,
        frequency_penalty: -0.5,
        logit_bias: { '5': -100, '17': 3 },
      },
      limits,
    );
    expect(s).toMatchObject({ n: 2, stream: true, includeUsage: true, stop: ['END'], seed: 7 });
    expect(s.sampling).toMatchObject({
      temperature: 0,
      topP: 0.9,
      topK: 40,
      minP: 0.05,
      presencePenalty: 0.5,
      frequencyPenalty: -0.5,
    });
    expect([...(s.sampling.logitBias as Map<number, number>)]).toEqual([
      [5, -100],
      [17, 3],
    ]);
  });

  it('treats null like absent', () => {
    const r = parseCommon({ temperature: null, n: null, stop: null, seed: null, logit_bias: null }, limits);
    expect(r.n).toBe(1);
    expect(r.sampling.temperature).toBe(1);
    expect(r.sampling.logitBias).toBeUndefined();
  });

  it('rejects with a 400 naming the field', () => {
    expect(paramOf(() => parseCommon({ n: 5 }, limits))).toBe('n');
    expect(paramOf(() => parseCommon({ stop: ['a', 'b', 'c', 'd', 'e'] }, limits))).toBe('stop');
    expect(paramOf(() => parseCommon({ stop: [''] }, limits))).toBe('stop');
    expect(paramOf(() => parseCommon({ logit_bias: { '2048': 1 } }, limits))).toBe('logit_bias');
  });
});

describe('resolveMaxTokens', () => {
  it('defaults to what the context leaves, clamps what does not fit, rejects over the cap', () => {
    expect(resolveMaxTokens(undefined, 56, limits, 'prompt', 'max_tokens')).toEqual({ maxTokens: 200 });
    expect(resolveMaxTokens(10, 56, limits, 'prompt', 'max_tokens')).toEqual({ maxTokens: 10 });
    expect(resolveMaxTokens(250, 56, limits, 'prompt', 'max_tokens')).toEqual({
      maxTokens: 200,
      clampedFrom: 250,
    });
    expect(paramOf(() => resolveMaxTokens(257, 5, limits, 'prompt', 'max_tokens'))).toBe('max_tokens');
    expect(
      paramOf(() =>
        resolveMaxTokens(5, 5, { ...limits, maxTokensCap: 4 }, 'prompt', 'max_completion_tokens'),
      ),
    ).toBe('max_completion_tokens');
  });

  it('rejects a prompt that leaves no room, naming the prompt field', () => {
    expect(paramOf(() => resolveMaxTokens(undefined, 256, limits, 'messages', 'max_tokens'))).toBe(
      'messages',
    );
    expect(resolveMaxTokens(undefined, 255, limits, 'prompt', 'max_tokens')).toEqual({ maxTokens: 1 });
  });
});

describe('rejectUnsupported', () => {
  it('lets absent, null, false and empty through; names the first field set', () => {
    expect(() =>
      rejectUnsupported({ tools: [], echo: false, suffix: null }, ['tools', 'echo', 'suffix']),
    ).not.toThrow();
    expect(paramOf(() => rejectUnsupported({ echo: true }, ['tools', 'echo']))).toBe('echo');
  });
});
