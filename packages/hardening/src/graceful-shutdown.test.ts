import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GracefulShutdown, type SignalSource } from './graceful-shutdown.js';
import { MAX_TIMER_MS } from './timer-ms.js';

/** A stand-in for `process`: only signal subscription. */
function fakeProcess(): EventEmitter & SignalSource {
  return new EventEmitter() as EventEmitter & SignalSource;
}

function deferred() {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('GracefulShutdown', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('on SIGTERM: drains, closes the server, waits for in-flight work, and does not cancel what finished', async () => {
    const steps: string[] = [];
    const shutdown = new GracefulShutdown({
      graceMs: 10_000,
      onDrainStart: (reason) => steps.push(`drain:${reason}`),
      closeServer: async () => {
        steps.push('close');
      },
      cancelAll: () => {
        steps.push('cancel');
      },
    });
    const proc = fakeProcess();
    shutdown.install(proc);
    const work = deferred();
    shutdown.track(work.promise);
    expect(shutdown.ready).toBe(true);

    proc.emit('SIGTERM');
    expect(shutdown.draining).toBe(true);
    expect(shutdown.ready).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(steps).toEqual(['drain:SIGTERM', 'close']);
    let finished = false;
    void shutdown.finished.then(() => (finished = true));
    work.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(finished).toBe(true);
    expect(steps).toEqual(['drain:SIGTERM', 'close']);
    // Handlers are removed once done, so a late signal does nothing.
    expect(proc.listenerCount('SIGTERM')).toBe(0);
    expect(proc.listenerCount('SIGINT')).toBe(0);
  });

  it('cancels what remains after graceMs, then resolves', async () => {
    const work = deferred();
    const cancelAll = vi.fn(() => work.reject(new Error('cancelled')));
    const shutdown = new GracefulShutdown({ graceMs: 1_000, cancelAll });
    shutdown.track(work.promise).catch(() => undefined);
    const done = shutdown.shutdown('test');
    await vi.advanceTimersByTimeAsync(999);
    expect(cancelAll).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(cancelAll).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(0);
    await expect(done).resolves.toBeUndefined();
    expect(shutdown.inFlightCount).toBe(0);
  });

  it('resolves even when cancelled work never settles or a hook throws', async () => {
    const log: string[] = [];
    const shutdown = new GracefulShutdown({
      graceMs: 100,
      cancelGraceMs: 500,
      onDrainStart: () => {
        throw new Error('readiness flip failed');
      },
      closeServer: () => new Promise(() => {}), // hangs forever
      cancelAll: () => Promise.reject(new Error('cancel failed')),
      log: (m) => log.push(m),
    });
    shutdown.track(new Promise(() => {}));
    const done = shutdown.shutdown();
    await vi.advanceTimersByTimeAsync(100 + 500 + 500);
    await expect(done).resolves.toBeUndefined();
    expect(log.join('\n')).toMatch(/onDrainStart failed: readiness flip failed/);
    expect(log.join('\n')).toMatch(/cancelAll failed: cancel failed/);
  });

  it('waits for work tracked during the drain too', async () => {
    const shutdown = new GracefulShutdown({ graceMs: 10_000 });
    const first = deferred();
    const second = deferred();
    shutdown.track(first.promise);
    let finished = false;
    void shutdown.shutdown().then(() => (finished = true));
    shutdown.track(second.promise);
    first.resolve();
    await vi.advanceTimersByTimeAsync(10);
    expect(finished).toBe(false);
    second.resolve();
    await vi.advanceTimersByTimeAsync(10);
    expect(finished).toBe(true);
  });

  it('handles the signal once; a second signal skips the rest of the grace period', async () => {
    const cancelAll = vi.fn();
    const onDrainStart = vi.fn();
    const shutdown = new GracefulShutdown({ graceMs: 60_000, cancelAll, onDrainStart });
    const proc = fakeProcess();
    shutdown.install(proc);
    shutdown.track(new Promise(() => {}));
    proc.emit('SIGINT');
    await vi.advanceTimersByTimeAsync(10);
    expect(cancelAll).not.toHaveBeenCalled();
    proc.emit('SIGTERM');
    await vi.advanceTimersByTimeAsync(0);
    expect(cancelAll).toHaveBeenCalledTimes(1);
    expect(onDrainStart).toHaveBeenCalledTimes(1);
  });

  it('shutdown() is idempotent and finishes at once with nothing in flight', async () => {
    const closeServer = vi.fn();
    const shutdown = new GracefulShutdown({ graceMs: 5_000, closeServer });
    const a = shutdown.shutdown();
    expect(shutdown.shutdown()).toBe(a);
    await vi.advanceTimersByTimeAsync(0);
    await expect(a).resolves.toBeUndefined();
    expect(closeServer).toHaveBeenCalledTimes(1);
  });

  it('track returns the same promise and forgets settled work', async () => {
    const shutdown = new GracefulShutdown({ graceMs: 1 });
    const p = Promise.resolve(7);
    expect(shutdown.track(p)).toBe(p);
    expect(shutdown.inFlightCount).toBe(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(shutdown.inFlightCount).toBe(0);
  });

  it('validates its options', () => {
    expect(() => new GracefulShutdown({ graceMs: -1 })).toThrow(RangeError);
    expect(() => new GracefulShutdown({ graceMs: Number.NaN })).toThrow(/graceMs/);
    expect(() => new GracefulShutdown({ graceMs: Number.POSITIVE_INFINITY })).toThrow(/graceMs/);
    // setTimeout would turn these into 1 ms: the drain (or the wait after cancelling) would end at once.
    expect(() => new GracefulShutdown({ graceMs: MAX_TIMER_MS + 1 })).toThrow(/options.graceMs .*2147483647/);
    expect(() => new GracefulShutdown({ graceMs: 1, cancelGraceMs: 2 ** 32 })).toThrow(RangeError);
    expect(() => new GracefulShutdown({ graceMs: 1, cancelGraceMs: -1 })).toThrow(/cancelGraceMs/);
    expect(new GracefulShutdown({ graceMs: MAX_TIMER_MS }).graceMs).toBe(MAX_TIMER_MS);
    expect(() => new GracefulShutdown({ graceMs: 1, cancelAll: 'x' as never })).toThrow(
      /cancelAll must be a function/,
    );
    const shutdown = new GracefulShutdown({ graceMs: 1 });
    expect(() => shutdown.track('x' as never)).toThrow(TypeError);
    const proc = fakeProcess();
    shutdown.install(proc);
    expect(() => shutdown.install(proc)).toThrow(/already installed/);
  });
});
