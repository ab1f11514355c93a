import { TernionError } from '@ternion/contracts';
import { checkTimerMs } from './timer-ms.js';

export interface DeadlineSignal {
  /** Aborts when `parent` aborts (reason: the parent's) or the deadline passes (reason: DEADLINE_EXCEEDED). */
  signal: AbortSignal;
  /** Clears the timer and detaches from `parent`. Idempotent; call it when the request ends. */
  dispose: () => void;
}

/**
 * An AbortSignal that fires on whichever comes first: `parent` (typically "the client disconnected") or `ms`
 * milliseconds from now. `ms = Infinity` means no deadline; a finite `ms` above MAX_TIMER_MS (about 24.8 days)
 * is a RangeError, since setTimeout would fire it after 1 ms.
 *
 * Written by hand rather than `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: that cannot cancel its
 * timer when the request finishes early, keeps a listener on a long-lived parent until GC, and
 * `AbortSignal.timeout` ignores fake timers. Here `dispose` undoes both at once.
 */
export function deadlineSignal(ms: number, parent?: AbortSignal): DeadlineSignal {
  checkTimerMs(ms, 'deadlineSignal: ms', { positive: true, allowInfinity: true });
  if (parent !== undefined && (typeof parent !== 'object' || parent === null || !('aborted' in parent))) {
    throw new TypeError('deadlineSignal: parent must be an AbortSignal');
  }
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onParentAbort = () => {
    dispose();
    controller.abort(parent?.reason);
  };
  const dispose = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    parent?.removeEventListener('abort', onParentAbort);
  };
  if (parent?.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, dispose };
  }
  parent?.addEventListener('abort', onParentAbort, { once: true });
  if (Number.isFinite(ms)) {
    timer = setTimeout(() => {
      timer = undefined;
      dispose();
      controller.abort(
        new TernionError('DEADLINE_EXCEEDED', `The request exceeded its deadline of ${ms} ms.`),
      );
    }, ms);
    // A pending deadline must not keep the process alive on its own (graceful shutdown relies on that).
    timer.unref?.();
  }
  return { signal: controller.signal, dispose };
}

/** True for anything an aborted signal or an abort-aware API throws: AbortError, TaskCancelledError, ABORTED, DEADLINE_EXCEEDED. */
export function isAbortError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if (TernionError.isInstance(err)) return err.code === 'ABORTED' || err.code === 'DEADLINE_EXCEEDED';
  const name = (err as { name?: unknown }).name;
  return name === 'AbortError' || name === 'TaskCancelledError' || name === 'TimeoutError';
}
