import { TernionError } from '@ternion/engine';
import { HttpError, openAiErrorBody } from '@ternion/hardening';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { acquireSequences } from '../acquire-sequences.js';
import {
  type ChoiceDelta,
  type ChoiceJob,
  type ChoiceOutcome,
  type RunObserver,
  runChoices,
} from '../completion-runner.js';
import type { Usage } from '../openai/types.js';
import type { ServerState } from '../server-state.js';
import { ClientGoneError, SseWriter } from '../sse.js';

/** A validated request, ready to run. */
export interface CompletionPlan {
  jobs: ChoiceJob[];
  stream: boolean;
  includeUsage: boolean;
  /** usage.prompt_tokens: each distinct prompt counted once (n choices share theirs). */
  promptTokens: number;
  /** Extra response headers (e.g. the max_tokens clamp notice). */
  headers: Record<string, string>;
  /** For `logPrompts`. */
  promptForLog: unknown;
}

/** Turns engine events into the endpoint's wire objects. */
export interface Presenter {
  /** Sent before any token (chat: the role delta of every choice). */
  streamStart(): unknown[];
  delta(d: ChoiceDelta): unknown;
  finish(o: ChoiceOutcome): unknown;
  usageChunk(usage: Usage): unknown;
  body(outcomes: ChoiceOutcome[], usage: Usage): unknown;
}

/** The deadline (hardening's `request.ternion.signal` reason), as opposed to a disconnect or a shutdown. */
function deadlineOf(signal: AbortSignal): TernionError | undefined {
  const reason: unknown = signal.reason;
  return signal.aborted && TernionError.isInstance(reason) && reason.code === 'DEADLINE_EXCEEDED'
    ? reason
    : undefined;
}

/**
 * The deadline error when the deadline cut at least one choice short. A deadline that fires after every
 * choice has already finished (between the last token and the response) changes nothing: the result is
 * complete, so it is sent as a success rather than thrown away as a 504.
 */
function deadlineCut(signal: AbortSignal, outcomes: readonly ChoiceOutcome[]): TernionError | undefined {
  const deadline = deadlineOf(signal);
  return deadline && outcomes.some((o) => o.aborted) ? deadline : undefined;
}

/**
 * The life of a completion request: token rate limit → breaker → admission (one slot per choice) → run
 * the choices → JSON or SSE. The signal combines client disconnect and deadline (hardening's
 * `request.ternion.signal`) with the server's shutdown; whichever fires, the sequences stop and are
 * disposed before the slots are released. Errors before the first SSE byte become ordinary OpenAI error
 * responses; once the stream has started, an engine failure or the deadline becomes an `error` event
 * (OpenAI's shape), counted in the metrics with its code and status, and the stream ends without `[DONE]`.
 * A deadline before the response started is a 504 `deadline_exceeded`, never a truncated 200.
 *
 * Generated tokens are charged to the client's token rate limit and counted in the metrics as they are
 * generated, so a request that ends early (disconnect, deadline, error) pays for what it cost; prompt
 * tokens are counted once the request has generated anything or succeeded.
 */
export async function serveCompletion(
  state: ServerState,
  request: FastifyRequest,
  reply: FastifyReply,
  plan: CompletionPlan,
  presenter: Presenter,
): Promise<unknown> {
  const { metrics, breaker } = state;
  const { keyId, startedAt } = request.ternion;
  const signal = AbortSignal.any([request.ternion.signal, state.shutdownSignal]);
  if (state.rateLimiter?.enabled) {
    const r = state.rateLimiter.tryTokens(keyId, plan.promptTokens);
    if (!r.ok) {
      throw new HttpError(429, r.reason, {
        code: 'rate_limit_exceeded',
        retryAfterSeconds: r.retryAfterSeconds,
      });
    }
  }
  let charged = 0;
  const charge = (n: number) => {
    if (n <= 0) return;
    charged += n;
    metrics.addGeneratedTokens(n);
    state.rateLimiter?.chargeTokens(keyId, n);
  };
  const observer: RunObserver = {
    firstToken: () => metrics.observeTimeToFirstToken((performance.now() - startedAt) / 1000),
    interToken: (s) => metrics.observeInterTokenLatency(s),
    generated: () => charge(1),
  };
  let succeeded = false;
  const account = (outcomes: ChoiceOutcome[]): Usage => {
    const completion = outcomes.reduce((s, o) => s + o.completionTokens, 0);
    // The engine's count includes tokens never streamed (an end-of-generation token): charge those too.
    charge(completion - charged);
    succeeded = true;
    if (state.logPrompts) {
      request.log.info(
        { prompt: plan.promptForLog, completions: outcomes.map((o) => o.text) },
        'completion text',
      );
    }
    return {
      prompt_tokens: plan.promptTokens,
      completion_tokens: completion,
      total_tokens: plan.promptTokens + completion,
    };
  };

  let hijacked = false;
  try {
    return await breaker.execute(async () => {
      const release = await acquireSequences(state.admission, plan.jobs.length, signal);
      state.activeSequences += plan.jobs.length;
      try {
        if (!plan.stream) {
          const outcomes = await runChoices(state.engine, plan.jobs, signal, undefined, observer);
          const deadline = deadlineCut(signal, outcomes);
          if (deadline) throw deadline; // → 504 deadline_exceeded, not a 200 cut short
          const usage = account(outcomes);
          void reply.headers(plan.headers);
          return presenter.body(outcomes, usage);
        }
        reply.hijack();
        hijacked = true;
        const sse = new SseWriter(reply.raw);
        sse.open(plan.headers);
        try {
          for (const o of presenter.streamStart()) await sse.send(o);
          const outcomes = await runChoices(
            state.engine,
            plan.jobs,
            signal,
            (d) => sse.send(presenter.delta(d)),
            {
              ...observer,
              // A choice cut by the deadline gets no finish chunk: the stream's error event ends it.
              finish: (o) => (o.aborted && deadlineOf(signal) ? undefined : sse.send(presenter.finish(o))),
            },
          );
          const deadline = deadlineCut(signal, outcomes);
          if (deadline) throw deadline;
          const usage = account(outcomes);
          if (plan.includeUsage) await sse.send(presenter.usageChunk(usage));
          await sse.done();
          request.log.info(
            {
              stream: true,
              completionTokens: usage.completion_tokens,
              ms: Math.round(performance.now() - startedAt),
            },
            'stream completed',
          );
        } catch (e) {
          if ((signal.aborted && !deadlineOf(signal)) || e instanceof ClientGoneError) {
            request.log.info('stream cancelled (client gone or shutdown); its sequences were freed');
          } else {
            // Headers are sent: count the error (its status, not the 200 on the wire) and report it
            // in-band; OpenAI's clients raise an APIError for an `error` event in the stream.
            const http = request.ternion.reportStreamError(deadlineOf(signal) ?? e);
            await sse.send(openAiErrorBody(http)).catch(() => {});
          }
          sse.end();
          throw e; // the breaker decides whether it counts (it ignores errors after an abort)
        }
        return reply;
      } finally {
        state.activeSequences -= plan.jobs.length;
        release();
        if (succeeded || charged > 0) metrics.addPromptTokens(plan.promptTokens);
      }
    }, signal);
  } catch (e) {
    // A stream's failure was logged, counted and reported in-band above.
    if (!hijacked) throw e;
    return reply;
  }
}
