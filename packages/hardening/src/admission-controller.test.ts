import { TernionError } from '@ternion/contracts';
import { describe, expect, it } from 'vitest';
import { AdmissionController, type Release } from './admission-controller.js';
import { RetryLaterError } from './http-error.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Records the order in which acquisitions resolve. */
function track(p: Promise<Release>, log: string[], name: string) {
  const out = { release: undefined as Release | undefined, error: undefined as unknown };
  p.then(
    (release) => {
      out.release = release;
      log.push(name);
    },
    (err) => {
      out.error = err;
      log.push(`${name}:rejected`);
    },
  );
  return out;
}

describe('AdmissionController', () => {
  it('grants free slots at once and counts running', async () => {
    const ac = new AdmissionController({ slots: 2, maxQueue: 2 });
    const r1 = await ac.acquire();
    const r2 = await ac.acquire();
    expect(ac.running).toBe(2);
    expect(ac.queued).toBe(0);
    r1();
    r2();
    expect(ac.running).toBe(0);
  });

  it('queues FIFO behind busy slots and hands a released slot to the oldest waiter', async () => {
    const ac = new AdmissionController({ slots: 1, maxQueue: 3 });
    const log: string[] = [];
    const first = await ac.acquire();
    const a = track(ac.acquire(), log, 'a');
    const b = track(ac.acquire(), log, 'b');
    await tick();
    expect(ac.queued).toBe(2);
    expect(log).toEqual([]);
    first();
    await tick();
    expect(log).toEqual(['a']);
    expect(ac.running).toBe(1);
    expect(ac.queued).toBe(1);
    a.release!();
    await tick();
    expect(log).toEqual(['a', 'b']);
    b.release!();
    expect(ac.running).toBe(0);
  });

  it('a release is idempotent: calling it twice frees one slot', async () => {
    const ac = new AdmissionController({ slots: 1, maxQueue: 2 });
    const log: string[] = [];
    const r = await ac.acquire();
    track(ac.acquire(), log, 'a');
    track(ac.acquire(), log, 'b');
    r();
    r();
    await tick();
    expect(log).toEqual(['a']);
    expect(ac.running).toBe(1);
    expect(ac.queued).toBe(1);
  });

  it('rejects at once with OVERLOADED and a Retry-After when the queue is full', async () => {
    const ac = new AdmissionController({ slots: 1, maxQueue: 1 });
    await ac.acquire();
    void ac.acquire();
    const err = await ac.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryLaterError);
    expect(TernionError.isInstance(err)).toBe(true);
    expect((err as RetryLaterError).code).toBe('OVERLOADED');
    expect((err as RetryLaterError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(ac.rejected).toBe(1);
    expect(ac.queued).toBe(1);
  });

  it('maxQueue 0 never queues', async () => {
    const ac = new AdmissionController({ slots: 1, maxQueue: 0 });
    await ac.acquire();
    await expect(ac.acquire()).rejects.toMatchObject({ code: 'OVERLOADED' });
  });

  it('an aborted waiter leaves the queue, frees its place and is rejected with ABORTED', async () => {
    const ac = new AdmissionController({ slots: 1, maxQueue: 2 });
    const log: string[] = [];
    const hold = await ac.acquire();
    const controller = new AbortController();
    const a = track(ac.acquire(controller.signal), log, 'a');
    const b = track(ac.acquire(), log, 'b');
    await tick();
    expect(ac.queued).toBe(2);
    controller.abort();
    await tick();
    expect(ac.queued).toBe(1);
    expect(log).toEqual(['a:rejected']);
    expect((a.error as TernionError).code).toBe('ABORTED');
    // Its place can be taken again, and the slot goes to the next live waiter.
    track(ac.acquire(), log, 'c');
    hold();
    await tick();
    expect(log).toEqual(['a:rejected', 'b']);
    expect(b.release).toBeTypeOf('function');
  });

  it('passes a TernionError abort reason (e.g. DEADLINE_EXCEEDED) through unchanged', async () => {
    const ac = new AdmissionController({ slots: 1, maxQueue: 1 });
    await ac.acquire();
    const controller = new AbortController();
    const reason = new TernionError('DEADLINE_EXCEEDED', 'too slow');
    const p = ac.acquire(controller.signal);
    controller.abort(reason);
    await expect(p).rejects.toBe(reason);
  });

  it('rejects an already-aborted signal without touching the counters', async () => {
    const ac = new AdmissionController({ slots: 1, maxQueue: 1 });
    await expect(ac.acquire(AbortSignal.abort())).rejects.toMatchObject({ code: 'ABORTED' });
    expect(ac.running).toBe(0);
    expect(ac.queued).toBe(0);
  });

  it('a waiter granted a slot no longer reacts to its signal', async () => {
    const ac = new AdmissionController({ slots: 1, maxQueue: 1 });
    const hold = await ac.acquire();
    const controller = new AbortController();
    const p = ac.acquire(controller.signal);
    hold();
    const release = await p;
    controller.abort();
    expect(ac.running).toBe(1);
    release();
    expect(ac.running).toBe(0);
  });

  it('rejectQueued refuses every waiter and keeps running requests', async () => {
    const ac = new AdmissionController({ slots: 1, maxQueue: 3 });
    await ac.acquire();
    const waiting = [ac.acquire(), ac.acquire()];
    const err = new TernionError('SHUTTING_DOWN', 'bye');
    ac.rejectQueued(err);
    for (const p of waiting) await expect(p).rejects.toBe(err);
    expect(ac.queued).toBe(0);
    expect(ac.running).toBe(1);
  });

  it('estimates Retry-After from how long slots are held', async () => {
    let now = 0;
    const realNow = performance.now;
    performance.now = () => now;
    try {
      const ac = new AdmissionController({ slots: 2, maxQueue: 2, maxRetryAfterSeconds: 100 });
      const r = await ac.acquire();
      now += 8_000;
      r(); // mean hold 8 s
      await ac.acquire();
      await ac.acquire();
      void ac.acquire();
      void ac.acquire();
      const err = (await ac.acquire().catch((e: unknown) => e)) as RetryLaterError;
      // 8 s per slot-hold, 3 positions ahead over 2 slots → 12 s.
      expect(err.retryAfterSeconds).toBe(12);
    } finally {
      performance.now = realNow;
    }
  });

  it('validates its options and arguments', async () => {
    expect(() => new AdmissionController({ slots: 0, maxQueue: 1 })).toThrow(/slots must be >= 1/);
    expect(() => new AdmissionController({ slots: 1.5, maxQueue: 1 })).toThrow(TypeError);
    expect(() => new AdmissionController({ slots: 1, maxQueue: -1 })).toThrow(RangeError);
    expect(() => new AdmissionController(undefined as never)).toThrow(TypeError);
    const ac = new AdmissionController({ slots: 1, maxQueue: 1 });
    await expect(ac.acquire({} as AbortSignal)).rejects.toThrow(/signal must be an AbortSignal/);
  });
});
