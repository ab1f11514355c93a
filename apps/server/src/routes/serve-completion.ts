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

/**
 * The life of a completion request: token rate limit → breaker → admission (one slot per choice) → run
 * the choices → JSON or SSE. The signal combines client disconnect and deadline (hardening's
 * `request.ternion.signal`) with the server's shutdown; whichever fires, the sequences stop and are
 * disposed before the slots are released. Errors before the first SSE byte become ordinary OpenAI error
 * responses; an engine failure mid-stream becomes an `error` event, then the stream ends.
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
  const observer: RunObserver = {
    firstToken: () => metrics.observeTimeToFirstToken((performance.now() - startedAt) / 1000),
    interToken: (s) => metrics.observeInterTokenLatency(s),
  };
  const account = (outcomes: ChoiceOutcome[]): Usage => {
    const completion = outcomes.reduce((s, o) => s + o.completionTokens, 0);
    metrics.addPromptTokens(plan.promptTokens);
    metrics.addGeneratedTokens(completion);
    state.rateLimiter?.chargeTokens(keyId, completion);
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
              finish: (o) => sse.send(presenter.finish(o)),
            },
          );
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
          if (signal.aborted || e instanceof ClientGoneError) {
            request.log.info(
              'stream cancelled (client gone, deadline or shutdown); its sequences were freed',
            );
          } else {
            // Headers are sent; OpenAI's clients raise an APIError for an `error` event in the stream.
            await sse.send(openAiErrorBody(e)).catch(() => {});
          }
          sse.end();
          throw e; // the breaker decides whether it counts (it ignores errors after an abort)
        }
        return reply;
      } finally {
        state.activeSequences -= plan.jobs.length;
        release();
      }
    }, signal);
  } catch (e) {
    if (!hijacked) throw e;
    if (!signal.aborted && !(e instanceof ClientGoneError)) request.log.error({ err: e }, 'stream failed');
    return reply;
  }
}
