/**
 * The longest delay `setTimeout` honours: Node stores it as a signed 32-bit integer and turns anything larger
 * into 1 ms (with a TimeoutOverflowWarning), so a "very long" deadline or grace period would fire at once.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Throws a RangeError naming `name` unless `ms` is a finite number of milliseconds, > 0 (`positive`) or ≥ 0,
 * and at most MAX_TIMER_MS; Infinity passes when `allowInfinity`. Every timeout option is checked here
 * before it can reach `setTimeout`.
 */
export function checkTimerMs(
  ms: unknown,
  name: string,
  { positive, allowInfinity = false }: { positive: boolean; allowInfinity?: boolean },
): void {
  if (allowInfinity && ms === Number.POSITIVE_INFINITY) return;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || (positive ? ms <= 0 : ms < 0) || ms > MAX_TIMER_MS) {
    const lower = positive ? 'a positive number' : 'a non-negative number';
    throw new RangeError(
      `${name} must be ${lower} of milliseconds ≤ ${MAX_TIMER_MS} (setTimeout's limit)${
        allowInfinity ? ' or Infinity' : ''
      }, got ${String(ms)}`,
    );
  }
}
