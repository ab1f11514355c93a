import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.js';

const T0 = 1_000_000;

describe('RateLimiter requests', () => {
  it('allows a burst of one minute of requests, then refuses with the exact wait', () => {
    const rl = new RateLimiter({ requestsPerMinute: 6 }); // one request per 10 s
    for (let i = 0; i < 6; i++) expect(rl.tryRequest('a', T0)).toEqual({ ok: true });
    const refused = rl.tryRequest('a', T0);
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.retryAfterSeconds).toBe(10);
      expect(refused.reason).toMatch(/6 requests\/min/);
    }
    // 4 s later, 6 s to go; 10 s later one request is available again.
    const later = rl.tryRequest('a', T0 + 4_000);
    expect(later.ok ? 0 : later.retryAfterSeconds).toBe(6);
    expect(rl.tryRequest('a', T0 + 10_000)).toEqual({ ok: true });
    expect(rl.tryRequest('a', T0 + 10_000).ok).toBe(false);
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    const rl = new RateLimiter({ requestsPerMinute: 7 }); // 8.571 s per request
    for (let i = 0; i < 7; i++) rl.tryRequest('a', T0);
    const r = rl.tryRequest('a', T0);
    expect(r.ok ? 0 : r.retryAfterSeconds).toBe(9);
    const almost = rl.tryRequest('a', T0 + 8_500);
    expect(almost.ok ? 0 : almost.retryAfterSeconds).toBe(1);
  });

  it('keeps keys independent', () => {
    const rl = new RateLimiter({ requestsPerMinute: 1 });
    expect(rl.tryRequest('a', T0).ok).toBe(true);
    expect(rl.tryRequest('a', T0).ok).toBe(false);
    expect(rl.tryRequest('b', T0).ok).toBe(true);
  });

  it('never refills beyond one minute of budget, and ignores a clock stepping back', () => {
    const rl = new RateLimiter({ requestsPerMinute: 2 });
    rl.tryRequest('a', T0);
    let ok = 0;
    for (let i = 0; i < 10; i++) if (rl.tryRequest('a', T0 + 3_600_000).ok) ok++;
    expect(ok).toBe(2);
    expect(rl.tryRequest('a', T0).ok).toBe(false); // earlier clock: no refill, no crash
  });

  it('uses the injected clock when no time is passed', () => {
    let now = T0;
    const rl = new RateLimiter({ requestsPerMinute: 60, now: () => now });
    for (let i = 0; i < 60; i++) rl.tryRequest('a');
    expect(rl.tryRequest('a').ok).toBe(false);
    now += 1_000;
    expect(rl.tryRequest('a').ok).toBe(true);
  });

  it('allows everything when no limit is configured', () => {
    const rl = new RateLimiter();
    expect(rl.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(rl.tryRequest('a', T0).ok).toBe(true);
    expect(rl.tryTokens('a', 1e9, T0).ok).toBe(true);
  });
});

describe('RateLimiter tokens', () => {
  it('takes prompt tokens up front and refuses what the bucket cannot cover', () => {
    const rl = new RateLimiter({ tokensPerMinute: 600 }); // 10 tokens/s
    expect(rl.tryTokens('a', 500, T0)).toEqual({ ok: true });
    const r = rl.tryTokens('a', 300, T0);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.retryAfterSeconds).toBe(20); // 200 missing at 10/s
    expect(rl.tryTokens('a', 300, T0 + 20_000).ok).toBe(true);
  });

  it('lets a prompt larger than the per-minute budget through only on a full bucket, then waits it off', () => {
    const rl = new RateLimiter({ tokensPerMinute: 600, requestsPerMinute: 1000 });
    rl.tryTokens('a', 1, T0);
    const partial = rl.tryTokens('a', 900, T0);
    expect(partial.ok ? 0 : partial.retryAfterSeconds).toBe(1); // needs a full bucket: 1 token missing
    expect(rl.tryTokens('a', 900, T0 + 1_000).ok).toBe(true); // balance now -300
    const next = rl.tryRequest('a', T0 + 1_000);
    expect(next.ok ? 0 : next.retryAfterSeconds).toBe(31); // 301 tokens at 10/s until the balance is >= 1
    expect(rl.tryRequest('a', T0 + 31_100).ok).toBe(true);
  });

  it('charges generated tokens unconditionally; debt blocks the next request, not the current stream', () => {
    const rl = new RateLimiter({ tokensPerMinute: 60, requestsPerMinute: 100 }); // 1 token/s
    expect(rl.tryRequest('a', T0).ok).toBe(true);
    expect(rl.tryTokens('a', 50, T0).ok).toBe(true);
    for (let i = 0; i < 20; i++) rl.chargeTokens('a', 1, T0); // balance -10
    const r = rl.tryRequest('a', T0);
    expect(r.ok ? 0 : r.retryAfterSeconds).toBe(11);
    expect(r.ok ? '' : r.reason).toMatch(/60 tokens\/min/);
    expect(rl.tryRequest('a', T0 + 11_000).ok).toBe(true);
  });

  it('validates token counts and key ids', () => {
    const rl = new RateLimiter({ tokensPerMinute: 10 });
    expect(() => rl.tryTokens('a', -1)).toThrow(RangeError);
    expect(() => rl.tryTokens('a', 1.5)).toThrow(/non-negative integer/);
    expect(() => rl.chargeTokens('a', Number.NaN)).toThrow(RangeError);
    expect(() => rl.tryRequest('')).toThrow(TypeError);
    expect(() => new RateLimiter({ requestsPerMinute: 0 })).toThrow(
      /requestsPerMinute must be a number >= 1/,
    );
    expect(() => new RateLimiter({ tokensPerMinute: -5 })).toThrow(RangeError);
    expect(() => new RateLimiter({ tokensPerMinute: 0.5 })).toThrow(RangeError);
    expect(() => new RateLimiter({ maxKeys: 0 })).toThrow(/maxKeys/);
  });
});

describe('RateLimiter memory', () => {
  it('forgets keys whose buckets have refilled (they are equivalent to new ones)', () => {
    const rl = new RateLimiter({ requestsPerMinute: 10, tokensPerMinute: 100 });
    for (let i = 0; i < 100; i++) rl.tryRequest(`k${i}`, T0 + i);
    expect(rl.size).toBe(100);
    // A minute later every bucket is full again; each call drops up to 2 of the oldest.
    for (let i = 0; i < 60; i++) rl.tryRequest('active', T0 + 120_000 + i);
    expect(rl.size).toBe(1);
  });

  it('keeps a key that is still limited', () => {
    const rl = new RateLimiter({ requestsPerMinute: 1 });
    rl.tryRequest('limited', T0);
    rl.tryRequest('other', T0 + 30_000);
    rl.tryRequest('other2', T0 + 30_000);
    expect(rl.tryRequest('limited', T0 + 30_000).ok).toBe(false);
  });

  it('holds at most maxKeys keys', () => {
    const rl = new RateLimiter({ requestsPerMinute: 1, maxKeys: 50 });
    for (let i = 0; i < 1000; i++) rl.tryRequest(`k${i}`, T0);
    expect(rl.size).toBe(50);
    // The most recent keys are the ones kept.
    expect(rl.tryRequest('k999', T0).ok).toBe(false);
  });
});
