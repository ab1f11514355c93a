import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SampleStep, SamplingOptions } from './options.js';
import { Rng } from './rng.js';
import { argmax, Sampler } from './sampler.js';

const logits = (xs: number[]): Float32Array => Float32Array.from(xs);

describe('Rng', () => {
  it('is deterministic per seed and roughly uniform', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 1000 }, () => a.nextFloat());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b.nextFloat()));
    expect(xs).not.toEqual(Array.from({ length: 1000 }, () => c.nextFloat()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });
});

describe('Sampler', () => {
  it('is greedy at temperature 0 and reports the log-probability when asked', () => {
    expect(new Sampler(4).sample(logits([1, 3, 2, 0]), []).logprob).toBeNaN();
    const s = new Sampler(4, { logprobs: true });
    const r = s.sample(logits([1, 3, 2, 0]), []);
    expect(r.token).toBe(1);
    const z = Math.log(Math.exp(1) + Math.exp(3) + Math.exp(2) + Math.exp(0));
    expect(r.logprob).toBeCloseTo(3 - z, 5);
  });

  it('applies logit bias (and -Infinity bans)', () => {
    const s = new Sampler(3, { logitBias: { 1: Number.NEGATIVE_INFINITY, 2: 5 } });
    expect(s.sample(logits([1, 9, 0]), []).token).toBe(2);
    expect(() => new Sampler(3, { logitBias: { 7: 1 } })).toThrow(RangeError);
  });

  it('applies repetition, frequency and presence penalties to recent tokens only', () => {
    const rep = new Sampler(3, { repeatPenalty: 2 });
    // token 0 at 4 → 2 (< 3), so token 1 wins
    expect(rep.sample(logits([4, 3, -1]), [0]).token).toBe(1);
    const freq = new Sampler(3, { frequencyPenalty: 0.6, penaltyLastN: 2 });
    expect(freq.sample(logits([4, 3, 0]), [0, 0]).token).toBe(1); // 4 - 1.2 < 3
    expect(freq.sample(logits([4, 3, 0]), [0, 0, 2, 2]).token).toBe(0); // token 0 outside the window
    const pres = new Sampler(3, { presencePenalty: 1.5 });
    expect(pres.sample(logits([4, 3, 0]), [0, 0, 0]).token).toBe(1);
  });

  /**
   * The logits after penalties, read back through the log-probabilities (differences of log-probabilities
   * are differences of logits), anchored on token 3, which no penalty touches (logit 0.5).
   */
  function penalised(options: SamplingOptions, history: number[], step: SampleStep = {}): number[] {
    const s = new Sampler(4, { ...options, topLogprobs: 4 });
    const r = s.sample(logits([2, 1, -1, 0.5]), history, step);
    const lp = new Map(r.topLogprobs!.map((t) => [t.token as number, t.logprob]));
    return [0, 1, 2, 3].map((t) => lp.get(t)! - lp.get(3)! + 0.5);
  }

  function expectLogits(got: number[], expected: number[]): void {
    expect(got).toHaveLength(expected.length);
    for (let i = 0; i < expected.length; i++) expect(got[i]).toBeCloseTo(expected[i]!, 5);
  }

  // logits [2, 1, -1, 0.5]; a prompt [0, 0, 2], then this generation's output [1, 0]
  const history = [0, 0, 2, 1, 0];
  const penalties = { repeatPenalty: 2, frequencyPenalty: 0.5, presencePenalty: 0.25 };

  it("penaltyScope 'generated': repetition over prompt + output, presence and frequency over the output", () => {
    // repetition (whole history {0, 1, 2}): 2/2 = 1, 1/2 = 0.5, -1·2 = -2;
    // then output counts {0: 1, 1: 1}: 1 - 0.5·1 - 0.25 = 0.25, 0.5 - 0.5·1 - 0.25 = -0.25
    const generated = [0.25, -0.25, -2, 0.5];
    expectLogits(
      penalised({ ...penalties, penaltyScope: 'generated' }, history, { numGenerated: 2 }),
      generated,
    );
    // no window: penaltyLastN does not apply
    const lastN1 = { ...penalties, penaltyScope: 'generated', penaltyLastN: 1 } as const;
    expectLogits(penalised(lastN1, history, { numGenerated: 2 }), generated);
    // nothing generated yet: only the repetition penalty, from the prompt
    expectLogits(
      penalised({ ...penalties, penaltyScope: 'generated' }, [0, 0, 2], { numGenerated: 0 }),
      [1, 1, -2, 0.5],
    );
  });

  it("penaltyScope 'window' (default): all three penalties over the last penaltyLastN tokens", () => {
    // window of 64 = everything {0: 3, 1: 1, 2: 1}: 1 - 1.5 - 0.25, 0.5 - 0.5 - 0.25, -2 - 0.5 - 0.25
    const whole = [-0.75, -0.25, -2.75, 0.5];
    expectLogits(penalised(penalties, history, { numGenerated: 2 }), whole);
    expectLogits(penalised({ ...penalties, penaltyScope: 'window' }, history), whole);
    // window of 2 = [1, 0]: token 2 (prompt) untouched
    expectLogits(penalised({ ...penalties, penaltyLastN: 2 }, history), [0.25, -0.25, -1, 0.5]);
  });

  it('never chooses a banned token, even when bias and bans leave nothing else', () => {
    const s = new Sampler(3, { logprobs: true });
    const r = s.sample(logits([1, 9, 0]), [], { banned: [1] });
    expect(r.token).toBe(0);
    expect(r.logprob).toBeCloseTo(1 - Math.log(Math.exp(1) + Math.exp(0)), 5);
    const hot = new Sampler(3, { temperature: 1, seed: 5 });
    for (let i = 0; i < 50; i++) expect(hot.sample(logits([1, 9, 0]), [], { banned: [1, 2] }).token).toBe(0);
    const allBanned = new Sampler(3, {
      logitBias: { 0: Number.NEGATIVE_INFINITY, 2: Number.NEGATIVE_INFINITY },
    });
    expect(allBanned.sample(logits([1, 9, 0]), [], { banned: [1] }).token).toBe(0);
  });

  it('same seed gives the same draws; different seeds differ', () => {
    const row = logits(Array.from({ length: 50 }, (_, i) => Math.sin(i) * 2));
    const draw = (seed: number) => {
      const s = new Sampler(50, { temperature: 1, seed });
      return Array.from({ length: 40 }, () => s.sample(row, []).token);
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('draws with frequencies matching softmax(logits / T)', () => {
    const row = logits([0, Math.log(3), Math.log(6)]); // p = 0.1, 0.3, 0.6
    const s = new Sampler(3, { temperature: 1, seed: 1 });
    const counts = [0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[s.sample(row, []).token]!++;
    expect(counts[0]! / 20000).toBeCloseTo(0.1, 1);
    expect(counts[1]! / 20000).toBeCloseTo(0.3, 1);
    expect(counts[2]! / 20000).toBeCloseTo(0.6, 1);
  });

  it('top-k, top-p and min-p only ever return allowed tokens', () => {
    const row = logits([5, 4, 3, 2, 1, 0]);
    const topK = new Sampler(6, { temperature: 5, topK: 2, seed: 3 });
    const topP = new Sampler(6, { temperature: 5, topP: 0.7, seed: 3 }); // p ≈ .64,.23,... → {0,1}
    const minP = new Sampler(6, { temperature: 5, minP: 0.3, seed: 3 }); // e^-1 = .37 ≥ .3, e^-2 < .3
    for (let i = 0; i < 300; i++) {
      expect(topK.sample(row, []).token).toBeLessThan(2);
      expect(topP.sample(row, []).token).toBeLessThan(2);
      expect(minP.sample(row, []).token).toBeLessThan(2);
    }
  });

  it('returns sorted top logprobs that sum to at most 1', () => {
    const s = new Sampler(5, { topLogprobs: 3 });
    const r = s.sample(logits([0, 2, 1, 3, -1]), []);
    expect(r.topLogprobs!.map((t) => t.token)).toEqual([3, 1, 2]);
    const mass = r.topLogprobs!.reduce((acc, t) => acc + Math.exp(t.logprob), 0);
    expect(mass).toBeLessThan(1);
    expect(r.topLogprobs![0]!.logprob).toBeCloseTo(r.logprob, 6);
  });

  it('rejects bad options with the option name', () => {
    expect(() => new Sampler(3, { temperature: -1 })).toThrow(/temperature/);
    expect(() => new Sampler(3, { topP: 0 })).toThrow(/topP/);
    expect(() => new Sampler(3, { topK: 1.5 })).toThrow(/topK/);
    expect(() => new Sampler(3).sample(new Float32Array(2), [])).toThrow(RangeError);
    expect(() => new Sampler(3, { penaltyScope: 'prompt' as never })).toThrow(/penaltyScope/);
    expect(() => new Sampler(3).sample(logits([0, 0, 0]), [1], { numGenerated: 2 })).toThrow(/numGenerated/);
    expect(() => new Sampler(3).sample(logits([0, 0, 0]), [], { banned: [3] })).toThrow(/banned/);
  });

  it('never returns an out-of-vocabulary token (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -20, max: 20, noNaN: true }), { minLength: 1, maxLength: 40 }),
        fc.float({ min: 0, max: 3, noNaN: true }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer(),
        (xs, temperature, topK, seed) => {
          const s = new Sampler(xs.length, { temperature, topK, seed, topP: 0.9, minP: 0.05 });
          const t = s.sample(Float32Array.from(xs), []).token;
          return t >= 0 && t < xs.length && (temperature > 0 || t === argmax(Float32Array.from(xs)));
        },
      ),
    );
  });
});
