import { TernionError } from '@ternion/contracts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BreakerState, EngineBreaker, isEngineFailure } from './engine-breaker.js';
import { HttpError, RetryLaterError } from './http-error.js';

const engineFault = () => Promise.reject(new TernionError('INTERNAL', 'native kernel failed'));
const ok = () => Promise.resolve('tokens');

async function fail(breaker: EngineBreaker, times: number, fn: () => Promise<unknown> = engineFault) {
  for (let i = 0; i < times; i++) await breaker.execute(fn).catch(() => undefined);
}

describe('EngineBreaker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes results and errors through while closed', async () => {
    const breaker = new EngineBreaker({ failureThreshold: 3 });
    await expect(breaker.execute(ok)).resolves.toBe('tokens');
    const original = new TernionError('INTERNAL', 'boom');
    await expect(breaker.execute(() => Promise.reject(original))).rejects.toBe(original);
    expect(breaker.state).toBe('closed');
  });

  it('opens after N consecutive engine failures and then rejects fast with ENGINE_UNAVAILABLE', async () => {
    const breaker = new EngineBreaker({ failureThreshold: 3, halfOpenAfterMs: 5_000 });
    await fail(breaker, 2);
    expect(breaker.state).toBe('closed');
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
    expect(breaker.stateValue).toBe(2);
    const fn = vi.fn(ok);
    const err = await breaker.execute(fn).catch((e: unknown) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(err).toBeInstanceOf(RetryLaterError);
    expect((err as RetryLaterError).code).toBe('ENGINE_UNAVAILABLE');
    expect((err as RetryLaterError).retryAfterSeconds).toBe(5);
    vi.advanceTimersByTime(3_200);
    expect(((await breaker.execute(fn).catch((e: unknown) => e)) as RetryLaterError).retryAfterSeconds).toBe(
      2,
    );
  });

  it('a success in between resets the consecutive count', async () => {
    const breaker = new EngineBreaker({ failureThreshold: 3 });
    await fail(breaker, 2);
    await breaker.execute(ok);
    await fail(breaker, 2);
    expect(breaker.state).toBe('closed');
  });

  it('half-opens after halfOpenAfterMs and closes when the trial call succeeds', async () => {
    const breaker = new EngineBreaker({ failureThreshold: 1, halfOpenAfterMs: 2_000 });
    const states: BreakerState[] = [];
    breaker.onStateChange((s) => states.push(s));
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(2_000);
    // Reported half-open before any trial arrives, so readiness lets traffic back in.
    expect(breaker.state).toBe('half-open');
    expect(breaker.stateValue).toBe(1);
    await expect(breaker.execute(ok)).resolves.toBe('tokens');
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('re-opens when the trial call fails', async () => {
    const breaker = new EngineBreaker({ failureThreshold: 1, halfOpenAfterMs: 2_000 });
    await fail(breaker, 1);
    vi.advanceTimersByTime(2_000);
    await fail(breaker, 1);
    expect(breaker.state).toBe('open');
    await expect(breaker.execute(ok)).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE' });
  });

  it('refuses other calls fast while the trial runs', async () => {
    const breaker = new EngineBreaker({ failureThreshold: 1, halfOpenAfterMs: 1_000 });
    await fail(breaker, 1);
    vi.advanceTimersByTime(1_000);
    let finishTrial!: (v: string) => void;
    const trial = breaker.execute(() => new Promise<string>((resolve) => (finishTrial = resolve)));
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(ok)).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE' });
    finishTrial('done');
    await expect(trial).resolves.toBe('done');
    expect(breaker.state).toBe('closed');
  });

  it('does not count client aborts, deadlines or request errors', async () => {
    const breaker = new EngineBreaker({ failureThreshold: 2 });
    const notFailures: unknown[] = [
      new TernionError('ABORTED', 'client gone'),
      new TernionError('DEADLINE_EXCEEDED', 'slow'),
      new DOMException('aborted', 'AbortError'),
      new TernionError('INVALID_ARGUMENT', 'bad temperature'),
      new TernionError('CONTEXT_OVERFLOW', 'too long'),
      new TernionError('KV_CACHE_FULL', 'full'),
      new HttpError(400, 'bad'),
      new RangeError('temperature must be >= 0'),
      new TypeError('prompt must be a string'),
    ];
    for (const err of notFailures) {
      for (let i = 0; i < 3; i++) await expect(breaker.execute(() => Promise.reject(err))).rejects.toBe(err);
    }
    expect(breaker.state).toBe('closed');
  });

  it('does not count any error thrown after the request signal aborted', async () => {
    const breaker = new EngineBreaker({ failureThreshold: 1 });
    const controller = new AbortController();
    controller.abort();
    const err = new Error('stream torn down');
    await expect(breaker.execute(() => Promise.reject(err), controller.signal)).rejects.toBe(err);
    expect(breaker.state).toBe('closed');
  });

  it('counts plain and synchronous exceptions', async () => {
    const breaker = new EngineBreaker({ failureThreshold: 2 });
    await fail(breaker, 1, () => Promise.reject(new Error('segfault-ish')));
    await breaker
      .execute(() => {
        throw new TernionError('MODEL_INVALID', 'bad weights');
      })
      .catch(() => undefined);
    expect(breaker.state).toBe('open');
  });

  it('accepts a custom failure rule', async () => {
    const breaker = new EngineBreaker({
      failureThreshold: 1,
      isFailure: (e) => (e as Error).message === 'count me',
    });
    await fail(breaker, 3, () => Promise.reject(new Error('ignore me')));
    expect(breaker.state).toBe('closed');
    await fail(breaker, 1, () => Promise.reject(new Error('count me')));
    expect(breaker.state).toBe('open');
  });

  it('validates its options and arguments', async () => {
    expect(() => new EngineBreaker({ failureThreshold: 0 })).toThrow(RangeError);
    expect(() => new EngineBreaker({ halfOpenAfterMs: -1 })).toThrow(/halfOpenAfterMs/);
    expect(() => new EngineBreaker({ isFailure: 1 as never })).toThrow(TypeError);
    await expect(new EngineBreaker().execute(42 as never)).rejects.toThrow(/fn must be a function/);
    expect(() => new EngineBreaker().onStateChange(null as never)).toThrow(TypeError);
  });
});

describe('isEngineFailure', () => {
  it('counts engine faults and unknown errors', () => {
    expect(isEngineFailure(new TernionError('INTERNAL', 'x'))).toBe(true);
    expect(isEngineFailure(new TernionError('NATIVE_LOAD_FAILED', 'x'))).toBe(true);
    expect(isEngineFailure(new Error('x'))).toBe(true);
    expect(isEngineFailure(new HttpError(500, 'x'))).toBe(true);
    expect(isEngineFailure(new HttpError(429, 'x'))).toBe(false);
  });
});
