import { checkTimerMs } from './timer-ms.js';

export interface GracefulShutdownOptions {
  /** How long in-flight work may take to finish after the signal (ms, at most MAX_TIMER_MS). Then it is cancelled. */
  graceMs: number;
  /** Called first, synchronously: flip readiness, stop admitting. `draining` is already true. */
  onDrainStart?: (reason: string) => void;
  /** Stops accepting connections (e.g. `() => app.close()`); awaited, but never for longer than the grace period plus `cancelGraceMs`. */
  closeServer?: () => Promise<void> | void;
  /** Cancels whatever is still in flight when the grace period ends (abort every request's signal). */
  cancelAll?: () => Promise<void> | void;
  /** After `cancelAll`, how long to wait for cancelled work to unwind (default 2000 ms). */
  cancelGraceMs?: number;
  /** Told about each step; default silent. */
  log?: (message: string) => void;
}

/** What `install` needs from `process`: signal subscription. A fake EventEmitter works in tests. */
export interface SignalSource {
  on(event: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  off(event: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Drain-then-cancel shutdown. On SIGTERM or SIGINT (or `shutdown()`): `draining` becomes true (readiness → 503,
 * new requests refused), `onDrainStart` runs, the server stops accepting connections, in-flight work
 * registered with `track` gets `graceMs` to finish, then `cancelAll` cancels the rest, and `shutdown()` /
 * `finished` resolve so the caller can exit 0. A second signal while draining skips the rest of the grace
 * period (the operator pressed Ctrl-C twice).
 */
export class GracefulShutdown {
  readonly graceMs: number;
  private readonly options: GracefulShutdownOptions;
  private readonly inFlight = new Set<Promise<unknown>>();
  private isDraining = false;
  private done: Promise<void> | undefined;
  private skipGrace: (() => void) | undefined;
  private resolveFinished!: () => void;
  /** Resolves when a shutdown has completed. */
  readonly finished: Promise<void>;
  private uninstall: (() => void) | undefined;

  constructor(options: GracefulShutdownOptions) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('GracefulShutdown: options must be an object');
    checkTimerMs(options.graceMs, 'GracefulShutdown: options.graceMs', { positive: false });
    if (options.cancelGraceMs !== undefined) {
      checkTimerMs(options.cancelGraceMs, 'GracefulShutdown: options.cancelGraceMs', { positive: false });
    }
    for (const name of ['onDrainStart', 'closeServer', 'cancelAll', 'log'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'function') {
        throw new TypeError(`GracefulShutdown: options.${name} must be a function`);
      }
    }
    this.options = options;
    this.graceMs = options.graceMs;
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  /** True from the first signal on. */
  get draining(): boolean {
    return this.isDraining;
  }

  /** Readiness: false once draining. */
  get ready(): boolean {
    return !this.isDraining;
  }

  /** Work still registered via `track`. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Registers in-flight work; it is forgotten when it settles (its rejection is not handled here). */
  track<T>(work: Promise<T>): Promise<T> {
    if (!(work instanceof Promise)) throw new TypeError('GracefulShutdown.track: expected a Promise');
    const entry = work.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(entry);
    void entry.then(() => this.inFlight.delete(entry));
    return work;
  }

  /** Handles SIGTERM and SIGINT on `source` (normally `process`). Returns a function that removes the handlers. */
  install(source: SignalSource = process): () => void {
    if (this.uninstall) throw new Error('GracefulShutdown.install: already installed');
    const handlers = SIGNALS.map((signal) => {
      const handler = () => {
        if (this.isDraining) {
          this.log(`${signal} received again: cancelling in-flight work now`);
          this.skipGrace?.();
          return;
        }
        void this.shutdown(signal);
      };
      source.on(signal, handler);
      return [signal, handler] as const;
    });
    this.uninstall = () => {
      for (const [signal, handler] of handlers) source.off(signal, handler);
      this.uninstall = undefined;
    };
    return this.uninstall;
  }

  /** Runs the shutdown sequence once; later calls return the same promise. Never rejects. */
  shutdown(reason = 'shutdown'): Promise<void> {
    this.done ??= this.run(reason);
    return this.done;
  }

  private async run(reason: string): Promise<void> {
    this.isDraining = true;
    this.log(`${reason}: draining ${this.inFlight.size} in-flight requests (grace ${this.graceMs} ms)`);
    await this.step('onDrainStart', () => this.options.onDrainStart?.(reason));
    // Not awaited yet: fastify's close() waits for open responses, i.e. for the very work we are draining.
    const closing = this.step('closeServer', () => this.options.closeServer?.());
    const drained = await this.waitForInFlight(this.graceMs, true);
    if (!drained) {
      this.log(`grace period over: cancelling ${this.inFlight.size} in-flight requests`);
      await this.step('cancelAll', () => this.options.cancelAll?.());
      await this.waitForInFlight(this.options.cancelGraceMs ?? 2000, false);
    }
    await Promise.race([closing, delay(this.options.cancelGraceMs ?? 2000)]);
    this.uninstall?.();
    this.log('shutdown complete');
    this.resolveFinished();
  }

  /** Resolves true when all tracked work settled within `ms`, false on timeout (or a second signal). */
  private async waitForInFlight(ms: number, skippable: boolean): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      if (skippable) this.skipGrace = () => resolve(false);
    });
    const settled = (async () => {
      // Work tracked during the drain (requests already past the door) joins the wait.
      while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
      return true as const;
    })();
    try {
      return await Promise.race([settled, timeout]);
    } finally {
      clearTimeout(timer);
      this.skipGrace = undefined;
    }
  }

  private async step(name: string, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (err) {
      // A failing hook must not stop the shutdown: the process still has to exit.
      this.log(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private log(message: string): void {
    this.options.log?.(message);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref?.();
  });
}
