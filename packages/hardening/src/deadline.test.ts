import { TernionError } from '@ternion/contracts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deadlineSignal, isAbortError } from './deadline.js';
import { MAX_TIMER_MS } from './timer-ms.js';

describe('deadlineSignal', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('aborts with DEADLINE_EXCEEDED when the deadline passes', () => {
    const { signal } = deadlineSignal(1000);
    vi.advanceTimersByTime(999);
    expect(signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(signal.aborted).toBe(true);
    expect(TernionError.isInstance(signal.reason)).toBe(true);
    expect((signal.reason as TernionError).code).toBe('DEADLINE_EXCEEDED');
    expect(isAbortError(signal.reason)).toBe(true);
  });

  it('aborts with the parent reason when the parent aborts first, and stops its timer', () => {
    const parent = new AbortController();
    const { signal } = deadlineSignal(1000, parent.signal);
    const reason = new TernionError('ABORTED', 'client gone');
    parent.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is aborted at once when the parent already is', () => {
    const { signal } = deadlineSignal(1000, AbortSignal.abort('gone'));
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('gone');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('dispose clears the timer and detaches from the parent', () => {
    const parent = new AbortController();
    const { signal, dispose } = deadlineSignal(1000, parent.signal);
    expect(vi.getTimerCount()).toBe(1);
    dispose();
    dispose();
    expect(vi.getTimerCount()).toBe(0);
    parent.abort();
    vi.advanceTimersByTime(5000);
    expect(signal.aborted).toBe(false);
  });

  it('Infinity means no deadline', () => {
    const { signal } = deadlineSignal(Number.POSITIVE_INFINITY);
    expect(vi.getTimerCount()).toBe(0);
    expect(signal.aborted).toBe(false);
  });

  it('validates its arguments', () => {
    expect(() => deadlineSignal(0)).toThrow(RangeError);
    expect(() => deadlineSignal(Number.NaN)).toThrow(/ms must be a positive number/);
    expect(() => deadlineSignal(-5)).toThrow(RangeError);
    expect(() => deadlineSignal(10, {} as AbortSignal)).toThrow(/parent must be an AbortSignal/);
  });

  it('refuses a deadline setTimeout cannot hold (it would fire after 1 ms)', () => {
    expect(() => deadlineSignal(MAX_TIMER_MS + 1)).toThrow(RangeError);
    expect(() => deadlineSignal(2 ** 31)).toThrow(/deadlineSignal: ms .*2147483647/);
    expect(vi.getTimerCount()).toBe(0);
    const { signal, dispose } = deadlineSignal(MAX_TIMER_MS);
    vi.advanceTimersByTime(1000);
    expect(signal.aborted).toBe(false);
    dispose();
  });
});

describe('isAbortError', () => {
  it('recognises the abort errors of Node, cockatiel and Ternion', () => {
    const controller = new AbortController();
    controller.abort();
    expect(isAbortError(controller.signal.reason)).toBe(true); // DOMException AbortError
    expect(isAbortError(Object.assign(new Error('x'), { name: 'TaskCancelledError' }))).toBe(true);
    expect(isAbortError(new TernionError('ABORTED', 'x'))).toBe(true);
    expect(isAbortError(new TernionError('INTERNAL', 'x'))).toBe(false);
    expect(isAbortError(new Error('x'))).toBe(false);
    expect(isAbortError('AbortError')).toBe(false);
    expect(isAbortError(null)).toBe(false);
  });
});
