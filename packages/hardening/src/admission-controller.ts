import { TernionError } from '@ternion/contracts';
import { RetryLaterError } from './http-error.js';

/** Gives a slot back. Idempotent: calling it twice frees one slot, once. */
export type Release = () => void;

export interface AdmissionControllerOptions {
  /** Requests that may run at once (= the engine's parallel sequences). */
  slots: number;
  /** Requests that may wait for a slot; the next one is refused with OVERLOADED. 0 = never wait. */
  maxQueue: number;
  /** Lower bound for the `retryAfterSeconds` of an OVERLOADED error (default 1). */
  minRetryAfterSeconds?: number;
  /** Upper bound for it (default 30). */
  maxRetryAfterSeconds?: number;
}

interface Waiter {
  resolve: (release: Release) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Weight of the newest sample in the moving average of slot hold times. */
const HOLD_EWMA_ALPHA = 0.2;

/**
 * A bounded FIFO queue in front of a fixed number of slots: `acquire` resolves with a `Release` once a slot is
 * free, and rejects at once with `RetryLaterError` code `OVERLOADED` when `maxQueue` requests already wait
 * (→ 503 + Retry-After, which load balancers retry on another replica). A waiter whose signal aborts
 * (client gone, deadline) leaves the queue immediately and stops counting against `maxQueue`.
 *
 * Why not cockatiel's `bulkhead(limit, queue)`: it has the same capacity rule, but (3.2.1) an aborted waiter
 * stays in its queue until a slot frees, so a burst of disconnected clients keeps refusing live ones; and its
 * `execute(fn)` holds the slot for the duration of one function call, whereas a streamed response needs a
 * release it can call from the stream's `finally`.
 *
 * `retryAfterSeconds` is an estimate of when a queue position frees: the moving average of how long a slot is
 * held, times the queue length over the slot count, clamped to [min, max].
 */
export class AdmissionController {
  readonly slots: number;
  readonly maxQueue: number;
  private readonly minRetryAfterSeconds: number;
  private readonly maxRetryAfterSeconds: number;
  private numRunning = 0;
  /** FIFO; a Set keeps insertion order and removes an aborted waiter in O(1). */
  private readonly waiters = new Set<Waiter>();
  private meanHoldSeconds = 0;
  private numRejected = 0;

  constructor(options: AdmissionControllerOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('AdmissionController: options must be an object { slots, maxQueue }');
    }
    this.slots = integerAtLeast(options.slots, 1, 'slots');
    this.maxQueue = integerAtLeast(options.maxQueue, 0, 'maxQueue');
    this.minRetryAfterSeconds = options.minRetryAfterSeconds ?? 1;
    this.maxRetryAfterSeconds = options.maxRetryAfterSeconds ?? 30;
    if (!(this.minRetryAfterSeconds >= 0 && this.maxRetryAfterSeconds >= this.minRetryAfterSeconds)) {
      throw new RangeError('AdmissionController: need 0 <= minRetryAfterSeconds <= maxRetryAfterSeconds');
    }
  }

  /** Requests holding a slot. */
  get running(): number {
    return this.numRunning;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiters.size;
  }

  /** Requests refused with OVERLOADED since construction. */
  get rejected(): number {
    return this.numRejected;
  }

  /**
   * Waits for a slot. Rejects with `RetryLaterError` (code `OVERLOADED`) when the queue is full, with
   * TernionError `ABORTED` when `signal` aborts first (or already has).
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal !== undefined && !isAbortSignal(signal)) {
      return Promise.reject(new TypeError('AdmissionController.acquire: signal must be an AbortSignal'));
    }
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    if (this.numRunning < this.slots && this.waiters.size === 0) return Promise.resolve(this.grant());
    if (this.waiters.size >= this.maxQueue) {
      this.numRejected++;
      const retryAfterSeconds = this.retryAfterSeconds();
      return Promise.reject(
        new RetryLaterError(
          'OVERLOADED',
          `The server is overloaded: ${this.numRunning} requests running and ${this.waiters.size} queued.`,
          { retryAfterSeconds, hint: `retry after ${retryAfterSeconds} s, or on another replica` },
        ),
      );
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          if (this.waiters.delete(waiter)) reject(abortedError(signal));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.add(waiter);
    });
  }

  /** Refuses every queued waiter with `err` (e.g. SHUTTING_DOWN on shutdown). Running requests are untouched. */
  rejectQueued(err: unknown): void {
    for (const waiter of [...this.waiters]) {
      this.waiters.delete(waiter);
      detach(waiter);
      waiter.reject(err);
    }
  }

  private grant(): Release {
    this.numRunning++;
    const startedAt = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const held = (performance.now() - startedAt) / 1000;
      this.meanHoldSeconds =
        this.meanHoldSeconds === 0
          ? held
          : this.meanHoldSeconds + HOLD_EWMA_ALPHA * (held - this.meanHoldSeconds);
      this.numRunning--;
      this.dispatch();
    };
  }

  private dispatch(): void {
    while (this.numRunning < this.slots) {
      const next = this.waiters.values().next();
      if (next.done) return;
      const waiter = next.value;
      this.waiters.delete(waiter);
      detach(waiter);
      waiter.resolve(this.grant());
    }
  }

  private retryAfterSeconds(): number {
    const estimate = Math.ceil((this.meanHoldSeconds * (this.waiters.size + 1)) / this.slots);
    return Math.min(this.maxRetryAfterSeconds, Math.max(this.minRetryAfterSeconds, estimate));
  }
}

function detach(waiter: Waiter): void {
  if (waiter.signal !== undefined && waiter.onAbort !== undefined) {
    waiter.signal.removeEventListener('abort', waiter.onAbort);
  }
}

function abortedError(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  if (TernionError.isInstance(reason)) return reason;
  return new TernionError('ABORTED', 'The request was aborted while waiting for a free slot.', {
    cause: reason,
  });
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).aborted === 'boolean'
  );
}

function integerAtLeast(value: unknown, min: number, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`AdmissionController: options.${name} must be an integer, got ${String(value)}`);
  }
  if (value < min)
    throw new RangeError(`AdmissionController: options.${name} must be >= ${min}, got ${value}`);
  return value;
}
