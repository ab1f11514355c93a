import type { Token } from '@ternion/engine';
import type { FastifyInstance } from 'fastify';
import type { ChoiceJob } from '../completion-runner.js';
import type { ServerEngine } from '../engine-host.js';
import type { ResponseHeader } from '../openai/chat-shapes.js';
import {
  type CompletionLogprobSpec,
  completionChunk,
  completionUsageChunk,
  textCompletion,
} from '../openai/completion-shapes.js';
import { badRequest, checkTokenIds } from '../openai/errors.js';
import { tokenString } from '../openai/logprobs.js';
import {
  parseCommon,
  rejectUnsupported,
  resolveMaxTokens,
  resolveMinTokens,
} from '../openai/request-options.js';
import { completionId, unixSeconds } from '../openai/response-ids.js';
import { completionBodySchema } from '../openai/schemas.js';
import type { CompletionBody } from '../openai/types.js';
import type { ServerState } from '../server-state.js';
import { MAX_TOKENS_CLAMPED_HEADER } from './headers.js';
import { type CompletionPlan, type Presenter, serveCompletion } from './serve-completion.js';

interface Prompt {
  tokens: Token[];
  /** Its text, for text_offset. */
  textLength: number;
}

/**
 * `prompt` may be a string, strings, token ids or token-id arrays (all in OpenAI's spec). Text gets BOS
 * when the model wants it; token arrays are used exactly as given.
 */
export function normalizePrompts(prompt: CompletionBody['prompt'], engine: ServerEngine): Prompt[] {
  const fromText = (text: string): Prompt => ({
    tokens: engine.tokenize(text, { parseSpecial: false }),
    textLength: text.length,
  });
  const fromIds = (ids: number[], param: string): Prompt => {
    checkTokenIds(ids, engine.vocabSize, param);
    const tokens = ids as Token[];
    let text = '';
    for (const t of tokens) text += tokenString(engine.tokenBytes(t));
    return { tokens, textLength: text.length };
  };
  if (typeof prompt === 'string') return [fromText(prompt)];
  if (prompt.every((p) => typeof p === 'string')) return (prompt as string[]).map(fromText);
  if (prompt.every((p) => typeof p === 'number')) return [fromIds(prompt as number[], 'prompt')];
  return (prompt as number[][]).map((ids, i) => fromIds(ids, `prompt[${i}]`));
}

const UNSUPPORTED = ['echo', 'suffix'] as const;

export function registerCompletions(app: FastifyInstance, state: ServerState): void {
  app.post<{ Body: CompletionBody }>(
    '/v1/completions',
    { schema: { body: completionBodySchema } },
    async (request, reply) => {
      const body = request.body;
      rejectUnsupported(body, UNSUPPORTED);
      if (body.best_of != null && body.best_of !== (body.n ?? 1)) {
        throw badRequest('best_of', 'best_of is not supported (it must equal n when given)');
      }
      const { engine, limits } = state;
      const prompts = normalizePrompts(body.prompt, engine);
      const common = parseCommon(body, limits);
      if (prompts.length * common.n > limits.maxChoices) {
        throw badRequest(
          'n',
          `${prompts.length} prompt(s) × n=${common.n} choices exceed this server's limit of ${limits.maxChoices} choices per request`,
        );
      }
      const wantLogprobs = body.logprobs != null;
      const top = body.logprobs ?? 0;
      if (top > limits.maxTopLogprobs) {
        throw badRequest('logprobs', `logprobs must be at most ${limits.maxTopLogprobs}, got ${top}`);
      }
      const headers: Record<string, string> = {};
      const jobs: ChoiceJob[] = [];
      const specs: CompletionLogprobSpec[] = [];
      prompts.forEach((p, pi) => {
        const decision = resolveMaxTokens(
          body.max_tokens ?? undefined,
          p.tokens.length,
          limits,
          'prompt',
          'max_tokens',
        );
        if (decision.clampedFrom !== undefined) {
          headers[MAX_TOKENS_CLAMPED_HEADER] = `${decision.clampedFrom}->${decision.maxTokens}`;
          request.log.warn(
            { requested: decision.clampedFrom, maxTokens: decision.maxTokens },
            'max_tokens clamped to fit the context',
          );
        }
        const minTokens = resolveMinTokens(common.minTokens, decision.maxTokens, 'max_tokens');
        for (let i = 0; i < common.n; i++) {
          const index = pi * common.n + i;
          specs[index] = { top, promptLength: p.textLength };
          jobs.push({
            index,
            prompt: p.tokens,
            keepTokens: wantLogprobs,
            options: {
              ...common.sampling,
              maxTokens: decision.maxTokens,
              ...minTokens,
              stop: common.stop,
              ...(common.seed === undefined ? {} : { seed: common.seed + i }),
              ...(wantLogprobs ? { topLogprobs: top, logprobs: true } : {}),
            },
          });
        }
      });
      const plan: CompletionPlan = {
        jobs,
        stream: common.stream,
        includeUsage: common.stream && common.includeUsage,
        promptTokens: prompts.reduce((s, p) => s + p.tokens.length, 0),
        headers,
        promptForLog: body.prompt,
      };
      const head: ResponseHeader = {
        id: completionId('cmpl'),
        created: unixSeconds(),
        model: engine.modelId,
        system_fingerprint: engine.fingerprint,
      };
      const bytesOf = (t: Token) => engine.tokenBytes(t);
      // Streaming text_offset continues where the previous chunk of the choice ended.
      const offsets = specs.map((s) => s.promptLength);
      const usage = plan.includeUsage;
      const presenter: Presenter = {
        streamStart: () => [],
        delta: (d) => {
          const spec = specs[d.index]!;
          const lp = wantLogprobs ? { tokens: d.tokens, spec, offset: offsets[d.index]! } : undefined;
          const chunk = completionChunk(head, d.index, d.text, null, lp, bytesOf, usage);
          if (lp) offsets[d.index]! += chunk.choices[0]!.logprobs!.tokens.reduce((s, t) => s + t.length, 0);
          return chunk;
        },
        finish: (o) => completionChunk(head, o.index, '', o.finishReason, undefined, bytesOf, usage),
        usageChunk: (u) => completionUsageChunk(head, u),
        body: (outcomes, u) =>
          textCompletion(head, outcomes, u, bytesOf, (i) => (wantLogprobs ? specs[i] : undefined)),
      };
      return serveCompletion(state, request, reply, plan, presenter);
    },
  );
}
