import type { GenerateOptions, GenerationResult, Token } from '@ternion/engine';
import type { ServerEngine } from './engine-host.js';
import type { FinishedChoice } from './openai/chat-shapes.js';
import type { GeneratedToken } from './openai/logprobs.js';

/** One choice of a request: its own sequence, prompt and options. */
export interface ChoiceJob {
  index: number;
  prompt: readonly Token[];
  /** Generation options; `maxTokens` is required so a text flush can be told from a token. */
  options: GenerateOptions & { maxTokens: number };
  /** Keep the generated tokens (for logprobs). */
  keepTokens: boolean;
}

/** New text of a choice, with the tokens generated since the previous delta. */
export interface ChoiceDelta {
  index: number;
  text: string;
  tokens: GeneratedToken[];
}

export interface ChoiceOutcome extends FinishedChoice {
  promptTokens: number;
  completionTokens: number;
  /** Generation was cut by the request's signal (client gone, deadline or shutdown). */
  aborted: boolean;
}

export type DeltaSink = (delta: ChoiceDelta) => void | Promise<void>;

/** Timing hooks for metrics. */
export interface RunObserver {
  /** The first token of the request (any choice). */
  firstToken?(): void;
  /** Seconds between two consecutive tokens of one choice. */
  interToken?(seconds: number): void;
  /**
   * A token was generated (any choice), called as it comes: whatever ends the request later (success,
   * disconnect, deadline, engine error), every token it cost has been reported here.
   */
  generated?(): void;
  /** A choice finished (streaming sends its finish chunk here). */
  finish?(outcome: ChoiceOutcome): void | Promise<void>;
}

/**
 * Runs every choice concurrently, each on its own sequence; the context merges their steps into shared
 * forward passes. A delta is produced whenever a choice has new text, or a new token when tokens are kept
 * for logprobs (without logprobs, tokens whose text is still pending — half a UTF-8 character, a possible
 * stop string — ride along with the next text). Every sequence is
 * disposed when its choice ends, however it ends, which frees its KV blocks at once. If one choice fails
 * the others are aborted and the first error is thrown once all have stopped.
 */
export async function runChoices(
  engine: ServerEngine,
  jobs: readonly ChoiceJob[],
  signal: AbortSignal,
  onDelta?: DeltaSink,
  observer: RunObserver = {},
): Promise<ChoiceOutcome[]> {
  const failed = new AbortController();
  const combined = AbortSignal.any([signal, failed.signal]);
  let firstSeen = false;
  const markFirst = () => {
    if (firstSeen) return;
    firstSeen = true;
    observer.firstToken?.();
  };
  const settled = await Promise.allSettled(
    jobs.map((job) =>
      runChoice(engine, job, combined, onDelta, markFirst, observer)
        .then(async (outcome) => {
          await observer.finish?.(outcome);
          return outcome;
        })
        .catch((e: unknown) => {
          failed.abort(e);
          throw e;
        }),
    ),
  );
  const firstError = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (firstError) throw firstError.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<ChoiceOutcome>).value);
}

async function runChoice(
  engine: ServerEngine,
  job: ChoiceJob,
  signal: AbortSignal,
  onDelta: DeltaSink | undefined,
  markFirst: () => void,
  observer: RunObserver,
): Promise<ChoiceOutcome> {
  const seq = engine.getSequence();
  const it = seq.generate(job.prompt, { ...job.options, signal });
  let done = false;
  try {
    const kept: GeneratedToken[] = [];
    let pending: GeneratedToken[] = [];
    let tokenChunks = 0;
    let lastTokenAt = 0;
    let result: GenerationResult;
    for (;;) {
      const r = await it.next();
      if (r.done) {
        done = true;
        result = r.value;
        break;
      }
      const c = r.value;
      // The detokenizer's final flush (held-back text when generation ends) has no token of its own.
      if (!c.flush) {
        tokenChunks++;
        observer.generated?.();
        const now = performance.now();
        if (tokenChunks === 1) markFirst();
        else observer.interToken?.((now - lastTokenAt) / 1000);
        lastTokenAt = now;
        if (job.keepTokens) {
          const t: GeneratedToken = { token: c.token, logprob: c.logprob };
          if (c.topLogprobs) t.topLogprobs = c.topLogprobs;
          kept.push(t);
          pending.push(t);
        }
      }
      // With logprobs every token is reported as it comes (OpenAI streams a chunk per token), even when
      // its text is still pending or empty (a control token); otherwise only new text makes a chunk.
      if (onDelta && (c.text !== '' || pending.length > 0)) {
        await onDelta({ index: job.index, text: c.text, tokens: pending });
        pending = [];
      }
    }
    if (pending.length > 0 && onDelta) await onDelta({ index: job.index, text: '', tokens: pending });
    const outcome: ChoiceOutcome = {
      index: job.index,
      text: result.text,
      // OpenAI has no "abort": a cut generation is reported as truncated.
      finishReason: result.finishReason === 'stop' ? 'stop' : 'length',
      promptTokens: result.promptTokens,
      completionTokens: result.completionTokens,
      aborted: result.finishReason === 'abort',
    };
    if (job.keepTokens) outcome.tokens = kept;
    return outcome;
  } finally {
    // Leaving early (the sink threw because the client is gone): close the generator so its own cleanup
    // runs, then free the KV blocks.
    if (!done) await it.return(undefined as unknown as GenerationResult).catch(() => {});
    seq.dispose();
  }
}
