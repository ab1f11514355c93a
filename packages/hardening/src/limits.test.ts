import { describe, expect, it } from 'vitest';
import { HttpError } from './http-error.js';
import { checkCount, defaultLimits, tokenBudget, validateLimits } from './limits.js';

const limits = { ...defaultLimits(2048), maxTokensCap: 512 };

function httpErrorOf(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    if (HttpError.isInstance(err)) return err;
    throw err;
  }
  throw new Error('expected an HttpError');
}

describe('limits', () => {
  it('defaultLimits fits the context and validates', () => {
    const l = defaultLimits(4096);
    expect(l.maxPromptTokens).toBe(4096);
    expect(l.maxStopTokenIds).toBe(256);
    expect(Object.isFrozen(validateLimits(l, 4096))).toBe(true);
    expect(() => defaultLimits(0)).toThrow(RangeError);
  });

  it('validateLimits names the bad field', () => {
    expect(() => validateLimits({ ...limits, maxN: 0 })).toThrow(/limits.maxN/);
    expect(() => validateLimits({ ...limits, maxStopTokenIds: 0 })).toThrow(/limits.maxStopTokenIds/);
    expect(() => validateLimits({ ...limits, maxBodyBytes: 1.5 })).toThrow(TypeError);
    expect(() => validateLimits({ ...limits, maxPromptTokens: 4096 }, 2048)).toThrow(
      /maxPromptTokens: must be <= the context size 2048/,
    );
    expect(() => validateLimits({ ...limits, maxTokensCap: 4096 }, 2048)).toThrow(/maxTokensCap/);
    expect(() => validateLimits(null as never)).toThrow(TypeError);
  });

  it('tokenBudget fills the remaining context when max_tokens is absent, up to the cap', () => {
    expect(tokenBudget({ promptTokens: 1900, contextSize: 2048, limits })).toEqual({
      maxTokens: 148,
      clamped: false,
    });
    expect(tokenBudget({ promptTokens: 10, contextSize: 2048, limits })).toEqual({
      maxTokens: 512,
      clamped: false,
    });
  });

  it('tokenBudget keeps a max_tokens that fits and clamps one that does not fit the context', () => {
    expect(tokenBudget({ promptTokens: 10, requestedMaxTokens: 100, contextSize: 2048, limits })).toEqual({
      maxTokens: 100,
      clamped: false,
    });
    expect(tokenBudget({ promptTokens: 2000, requestedMaxTokens: 100, contextSize: 2048, limits })).toEqual({
      maxTokens: 48,
      clamped: true,
    });
  });

  it('tokenBudget rejects an oversized prompt or max_tokens with a 400 naming the field', () => {
    const prompt = httpErrorOf(() =>
      tokenBudget({ promptTokens: 2048, contextSize: 2048, limits, promptParam: 'messages' }),
    );
    expect([prompt.status, prompt.code, prompt.param]).toEqual([400, 'context_length_exceeded', 'messages']);
    expect(prompt.message).toMatch(/maximum context length is 2048 tokens.*2048 tokens/);
    const capped = httpErrorOf(() =>
      tokenBudget({
        promptTokens: 5,
        requestedMaxTokens: 513,
        contextSize: 2048,
        limits,
        maxTokensParam: 'max_completion_tokens',
      }),
    );
    expect([capped.status, capped.param]).toEqual([400, 'max_completion_tokens']);
    const zero = httpErrorOf(() =>
      tokenBudget({ promptTokens: 5, requestedMaxTokens: 0, contextSize: 2048, limits }),
    );
    expect(zero.param).toBe('max_tokens');
    const small = { ...limits, maxPromptTokens: 100 };
    expect(
      httpErrorOf(() => tokenBudget({ promptTokens: 101, contextSize: 2048, limits: small })).param,
    ).toBe('prompt');
    expect(() => tokenBudget({ promptTokens: -1, contextSize: 2048, limits })).toThrow(RangeError);
  });

  it('checkCount throws a 400 naming the field when a list is too long', () => {
    expect(() => checkCount(4, 4, 'stop')).not.toThrow();
    const err = httpErrorOf(() => checkCount(5, 4, 'stop'));
    expect([err.status, err.param]).toEqual([400, 'stop']);
    expect(err.message).toBe("'stop' has 5 entries; at most 4 are allowed.");
  });
});
