import type { AdmissionController, Release } from '@ternion/hardening';

/**
 * Takes `n` admission slots (one per choice: each choice is a sequence) and returns one release for all.
 * The n acquire calls are made in the same tick, so when slots are short all of a request's waiters sit
 * next to each other in the FIFO queue: only the request at the head can hold part of its slots, and it
 * completes as soon as enough are released — no deadlock between half-admitted requests. If one acquire
 * fails (queue full, aborted) the request's other waiters leave the queue, the slots already held are
 * given back, and the first failure is thrown.
 */
export async function acquireSequences(
  admission: AdmissionController,
  n: number,
  signal: AbortSignal,
): Promise<Release> {
  const giveUp = new AbortController();
  const combined = AbortSignal.any([signal, giveUp.signal]);
  let firstFailure: { reason: unknown } | undefined;
  const settled = await Promise.allSettled(
    Array.from({ length: n }, () =>
      admission.acquire(combined).catch((e: unknown) => {
        firstFailure ??= { reason: e };
        giveUp.abort();
        throw e;
      }),
    ),
  );
  const releases = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const releaseAll = () => {
    for (const r of releases) r();
  };
  if (firstFailure) {
    releaseAll();
    throw firstFailure.reason;
  }
  return releaseAll;
}
