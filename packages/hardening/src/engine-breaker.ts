import { TernionError } from '@ternion/contracts';
import type { CircuitBreakerPolicy } from 'cockatiel';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  IsolatedCircuitError,
} from 'cockatiel';
import { isAbortError } from './deadline.js';
import { HttpError, RetryLaterError } from './http-error.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface EngineBreakerOptions {
  /** Consecutive engine failures that open the circuit (default 5). */
  failureThreshold?: number;
  /** How long the circuit stays open before one trial call is let through (default 10 000 ms). */
  halfOpenAfterMs?: number;
  /** Which errors count as engine failures (default `isEngineFailure`). */
  isFailure?: (err: unknown) => boolean;
}

export interface Disposable {
  dispose(): void;
}

/** TernionError codes that describe the request or the server's capacity, not a broken engine. */
const NOT_ENGINE_FAULTS: ReadonlySet<string> = new Set([
  'INVALID_ARGUMENT',
  'UNSUPPORTED',
  'CONTEXT_OVERFLOW',
  'UNAUTHENTICATED',
  'NOT_FOUND',
  'RATE_LIMITED',
  'OVERLOADED',
  'KV_CACHE_FULL',
  'ABORTED',
  'DEADLINE_EXCEEDED',
  'SHUTTING_DOWN',
  'ENGINE_UNAVAILABLE',
]);

/**
 * The default failure rule: everything counts EXCEPT
 * - aborts (client disconnected, deadline passed: AbortError, TaskCancelledError, TernionError ABORTED /
 *   DEADLINE_EXCEEDED) — a long generation hitting its deadline is normal, not a sick engine;
 * - request errors: HttpError below 500, TernionError INVALID_ARGUMENT / UNSUPPORTED / CONTEXT_OVERFLOW, and
 *   TypeError / RangeError (house rule: that is how every Ternion package rejects bad arguments);
 * - capacity errors: OVERLOADED, RATE_LIMITED, KV_CACHE_FULL, SHUTTING_DOWN.
 * What remains — native faults, INTERNAL, MODEL_INVALID, DISPOSED engines, unexpected exceptions — counts.
 */
export function isEngineFailure(err: unknown): boolean {
  if (isAbortError(err)) return false;
  if (HttpError.isInstance(err)) return err.status >= 500;
  if (TernionError.isInstance(err)) return !NOT_ENGINE_FAULTS.has(err.code);
  if (err instanceof TypeError || err instanceof RangeError) return false;
  return true;
}

/** Carries an error the breaker must not count through cockatiel's filter; unwrapped before rethrowing. */
class NotCounted {
  constructor(readonly error: unknown) {}
}

/**
 * A circuit breaker around engine calls (cockatiel `circuitBreaker(handleWhen(...), { halfOpenAfter, breaker:
 * new ConsecutiveBreaker(n) })`). After `failureThreshold` consecutive engine failures it opens: calls are
 * refused at once with `RetryLaterError` code `ENGINE_UNAVAILABLE` (→ 503 + Retry-After). After
 * `halfOpenAfterMs` the next call is a trial: success closes the circuit, failure re-opens it. While the trial
 * runs, other calls are refused fast too (cockatiel would make them wait for the trial, which for a generation
 * can take seconds). A trial that ends in a non-counted error (e.g. the client aborted) closes the circuit —
 * cockatiel's rule: the engine answered.
 *
 * `state` reports `'half-open'` as soon as the open period has elapsed, even before a trial arrives, so a
 * readiness probe built on `state !== 'open'` lets traffic back in (otherwise a load balancer that routes on
 * readiness would never send the trial call).
 */
export class EngineBreaker {
  readonly failureThreshold: number;
  readonly halfOpenAfterMs: number;
  private readonly isFailure: (err: unknown) => boolean;
  private readonly policy: CircuitBreakerPolicy;
  private openedAt = 0;

  constructor(options: EngineBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.halfOpenAfterMs = options.halfOpenAfterMs ?? 10_000;
    if (!Number.isInteger(this.failureThreshold) || this.failureThreshold < 1) {
      throw new RangeError(
        `EngineBreaker: failureThreshold must be a positive integer, got ${options.failureThreshold}`,
      );
    }
    if (!Number.isFinite(this.halfOpenAfterMs) || this.halfOpenAfterMs < 0) {
      throw new RangeError(
        `EngineBreaker: halfOpenAfterMs must be a non-negative number, got ${options.halfOpenAfterMs}`,
      );
    }
    if (options.isFailure !== undefined && typeof options.isFailure !== 'function') {
      throw new TypeError('EngineBreaker: isFailure must be a function (err) => boolean');
    }
    this.isFailure = options.isFailure ?? isEngineFailure;
    this.policy = circuitBreaker(
      handleWhen((err) => !(err instanceof NotCounted)),
      { halfOpenAfter: this.halfOpenAfterMs, breaker: new ConsecutiveBreaker(this.failureThreshold) },
    );
    // cockatiel's open timestamp is private; keep our own (same clock: Date.now) for `state` and Retry-After.
    this.policy.onBreak(() => {
      this.openedAt = Date.now();
    });
  }

  get state(): BreakerState {
    const state = this.policy.state;
    if (state === CircuitState.Closed) return 'closed';
    if (state === CircuitState.HalfOpen) return 'half-open';
    return this.remainingOpenMs() > 0 || state === CircuitState.Isolated ? 'open' : 'half-open';
  }

  /** Gauge value for `ternion_circuit_breaker_state`: 0 closed, 1 half-open, 2 open. */
  get stateValue(): 0 | 1 | 2 {
    const state = this.state;
    return state === 'closed' ? 0 : state === 'half-open' ? 1 : 2;
  }

  /**
   * Runs `fn` through the breaker. `signal` is the request's signal: an error thrown after it aborted is never
   * counted, whatever it is. Errors from `fn` are rethrown unchanged.
   */
  async execute<T>(fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError('EngineBreaker.execute: fn must be a function');
    if (this.policy.state === CircuitState.HalfOpen) throw this.unavailable(1);
    try {
      return await this.policy.execute(async () => {
        try {
          return await fn();
        } catch (err) {
          if (signal?.aborted || !this.isFailure(err)) throw new NotCounted(err);
          throw err;
        }
      });
    } catch (err) {
      if (err instanceof NotCounted) throw err.error;
      if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) {
        throw this.unavailable(Math.ceil(this.remainingOpenMs() / 1000));
      }
      throw err;
    }
  }

  /** Calls `listener` with the new state on every transition (for metrics and logs). */
  onStateChange(listener: (state: BreakerState) => void): Disposable {
    if (typeof listener !== 'function')
      throw new TypeError('EngineBreaker.onStateChange: listener must be a function');
    return this.policy.onStateChange((state) => {
      listener(
        state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half-open' : 'open',
      );
    });
  }

  private remainingOpenMs(): number {
    return Math.max(0, this.openedAt + this.halfOpenAfterMs - Date.now());
  }

  private unavailable(retryAfterSeconds: number): RetryLaterError {
    return new RetryLaterError(
      'ENGINE_UNAVAILABLE',
      'The inference engine is temporarily unavailable after repeated failures.',
      {
        retryAfterSeconds: Math.max(1, retryAfterSeconds),
        hint: 'the circuit breaker is open; it lets a trial request through shortly',
      },
    );
  }
}
