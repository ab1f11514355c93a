import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
