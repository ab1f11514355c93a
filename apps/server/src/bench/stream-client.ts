/**
 * The benchmark's streaming client. It runs in a worker thread so parsing the clients' SSE never competes
 * with the server for the main event loop: the server process is measured as a client elsewhere would see it.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

export interface StreamResult {
  tokens: number;
  /** Time to first token of each request that produced one, from the attempt the server accepted. */
  ttftMs: number[];
  /** The same from the request's first attempt: what a client sees, 503/429 back-offs included. */
  ttftWithRetriesMs: number[];
  gapsMs: number[];
  rejected503: number;
  rejected429: number;
  /** Requests that ran to completion. */
  completed: number;
  /** How the stream ended: all its requests done, cut at the level's cap, or an error. */
  outcome: 'done' | 'cut' | 'error';
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * One client stream: `requests` completions back to back (a closed loop, like a chat user who sends the next
 * message when the answer is done), each retried after Retry-After on 503/429, until the level's deadline.
 */
export async function runStream(
  url: string,
  body: string,
  requests: number,
  deadline: AbortSignal,
): Promise<StreamResult> {
  const r: StreamResult = {
    tokens: 0,
    ttftMs: [],
    ttftWithRetriesMs: [],
    gapsMs: [],
    rejected503: 0,
    rejected429: 0,
    completed: 0,
    outcome: 'error',
  };
  let firstAttempt: number | undefined;
  while (r.completed < requests) {
    if (deadline.aborted) {
      r.outcome = 'cut';
      return r;
    }
    const started = performance.now();
    firstAttempt ??= started;
    let res: Response;
    try {
      res = await fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: deadline,
      });
    } catch {
      r.outcome = deadline.aborted ? 'cut' : 'error';
      return r;
    }
    if (res.status === 503 || res.status === 429) {
      if (res.status === 503) r.rejected503++;
      else r.rejected429++;
      await res.arrayBuffer();
      await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000, deadline);
      continue;
    }
    if (res.status !== 200) {
      await res.arrayBuffer();
      return r;
    }
    const decoder = new TextDecoder();
    let buffered = '';
    let last = started;
    let first = true;
    try {
      for await (const bytes of res.body!) {
        buffered += decoder.decode(bytes as Uint8Array, { stream: true });
        let end = buffered.indexOf('\n\n');
        while (end >= 0) {
          const event = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          end = buffered.indexOf('\n\n');
          if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
          const data = JSON.parse(event.slice(6)) as {
            choices: { text: string; logprobs: { tokens: string[] } | null }[];
            usage?: { completion_tokens: number } | null;
          };
          if (data.usage) r.tokens += data.usage.completion_tokens;
          // logprobs: 0 makes the server report every token as it comes, text or not (random weights
          // like control tokens, whose text is empty).
          const arrived = data.choices[0]?.logprobs?.tokens.length ?? 0;
          if (arrived > 0) {
            const now = performance.now();
            if (first) {
              r.ttftMs.push(now - started);
              r.ttftWithRetriesMs.push(now - firstAttempt);
            } else for (let k = 0; k < arrived; k++) r.gapsMs.push((now - last) / arrived);
            first = false;
            last = now;
          }
        }
      }
      r.completed++;
      firstAttempt = undefined;
    } catch {
      r.outcome = deadline.aborted ? 'cut' : 'error';
      return r;
    }
  }
  r.outcome = 'done';
  return r;
}

export interface LevelRequest {
  url: string;
  body: string;
  streams: number;
  /** Requests each stream sends back to back. */
  requests: number;
  capMs: number;
}

export interface LevelResult {
  results: StreamResult[];
  wallSeconds: number;
}

/** Runs `streams` concurrent streams of `requests` requests each until they end or the cap passes. */
export async function runLevel(request: LevelRequest): Promise<LevelResult> {
  const deadline = AbortSignal.timeout(request.capMs);
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: request.streams }, () =>
      runStream(request.url, request.body, request.requests, deadline),
    ),
  );
  return { results, wallSeconds: (performance.now() - t0) / 1000 };
}

if (!isMainThread && parentPort) {
  parentPort.postMessage(await runLevel(workerData as LevelRequest));
}
