import type { Token } from '@ternion/engine';
import { describe, expect, it } from 'vitest';
import { chatLogprobs, completionLogprobs, finiteLogprob, type GeneratedToken } from './logprobs.js';

// A toy vocabulary: 0 = 'Hi', 1 = ' there', 2 and 3 = the two UTF-8 bytes of 'é', 4 = '__proto__'.
const pieces: Uint8Array[] = [
  new TextEncoder().encode('Hi'),
  new TextEncoder().encode(' there'),
  new Uint8Array([0xc3]),
  new Uint8Array([0xa9]),
  new TextEncoder().encode('__proto__'),
];
const bytesOf = (t: Token) => pieces[t]!;
const tok = (token: number, logprob: number, top?: [number, number][]): GeneratedToken => ({
  token: token as Token,
  logprob,
  ...(top ? { topLogprobs: top.map(([t, lp]) => ({ token: t as Token, logprob: lp })) } : {}),
});

describe('chatLogprobs', () => {
  it('gives token text, exact bytes and alternatives; partial UTF-8 shows as U+FFFD with its byte', () => {
    const out = chatLogprobs(
      [
        tok(0, -0.1, [
          [0, -0.1],
          [1, -2.5],
        ]),
        tok(2, -0.2),
        tok(3, -0.3),
      ],
      bytesOf,
    );
    expect(out[0]).toEqual({
      token: 'Hi',
      logprob: -0.1,
      bytes: [72, 105],
      top_logprobs: [
        { token: 'Hi', logprob: -0.1, bytes: [72, 105] },
        { token: ' there', logprob: -2.5, bytes: [32, 116, 104, 101, 114, 101] },
      ],
    });
    expect(out[1]!.token).toBe('\uFFFD');
    expect(new TextDecoder().decode(new Uint8Array([...out[1]!.bytes, ...out[2]!.bytes]))).toBe('é');
    expect(out[1]!.top_logprobs).toEqual([]);
  });

  it("turns -Infinity (a banned token) into OpenAI's -9999", () => {
    expect(finiteLogprob(Number.NEGATIVE_INFINITY)).toBe(-9999);
    expect(chatLogprobs([tok(0, Number.NEGATIVE_INFINITY)], bytesOf)[0]!.logprob).toBe(-9999);
  });
});

describe('completionLogprobs', () => {
  it('fills the parallel arrays; text_offset starts at the prompt length', () => {
    const out = completionLogprobs(
      [
        tok(0, -1, [
          [0, -1],
          [1, -2],
        ]),
        tok(1, -0.5, [[1, -0.5]]),
      ],
      bytesOf,
      7,
      true,
    );
    expect(out.tokens).toEqual(['Hi', ' there']);
    expect(out.token_logprobs).toEqual([-1, -0.5]);
    expect(out.text_offset).toEqual([7, 9]);
    expect(out.top_logprobs).toEqual([{ Hi: -1, ' there': -2 }, { ' there': -0.5 }]);
  });

  it('omits top_logprobs when not asked, and keeps "__proto__" a plain key', () => {
    expect(completionLogprobs([tok(0, -1)], bytesOf, 0, false).top_logprobs).toBeNull();
    const out = completionLogprobs([tok(4, -1, [[4, -1]])], bytesOf, 0, true);
    const top = out.top_logprobs![0]!;
    expect(Object.keys(top)).toEqual(['__proto__']);
    expect(JSON.parse(JSON.stringify(top))).toEqual(JSON.parse('{"__proto__":-1}'));
  });

  it('keeps the likelier of two ids with the same text', () => {
    const out = completionLogprobs(
      [
        tok(2, -1, [
          [2, -1],
          [3, -3],
        ]),
      ],
      (t) => (t === 3 ? pieces[2]! : bytesOf(t)),
      0,
      true,
    );
    expect(Object.values(out.top_logprobs![0]!)).toEqual([-1]);
  });
});
