import type { FastifyInstance } from 'fastify';
import { plainMessages } from '../chat-template.js';
import type { ChoiceJob } from '../completion-runner.js';
import {
  chatChunk,
  chatCompletion,
  chatContentDelta,
  chatFinishDelta,
  chatRoleDelta,
  type ResponseHeader,
} from '../openai/chat-shapes.js';
import { badRequest } from '../openai/errors.js';
import {
  parseCommon,
  rejectUnsupported,
  resolveMaxTokens,
  resolveMinTokens,
} from '../openai/request-options.js';
import { completionId, unixSeconds } from '../openai/response-ids.js';
import { chatCompletionBodySchema } from '../openai/schemas.js';
import type { ChatCompletionBody } from '../openai/types.js';
import type { ServerState } from '../server-state.js';
import { MAX_TOKENS_CLAMPED_HEADER } from './headers.js';
import { type CompletionPlan, type Presenter, serveCompletion } from './serve-completion.js';

/** Known OpenAI chat fields this server cannot honour: a 400 beats a silently different answer. */
const UNSUPPORTED = [
  'tools',
  'functions',
  'function_call',
  'audio',
  'prediction',
  'web_search_options',
] as const;

export function registerChatCompletions(app: FastifyInstance, state: ServerState): void {
  app.post<{ Body: ChatCompletionBody }>(
    '/v1/chat/completions',
    { schema: { body: chatCompletionBodySchema } },
    async (request, reply) => {
      const body = request.body;
      rejectUnsupported(body, UNSUPPORTED);
      const format = body.response_format as { type?: unknown } | undefined | null;
      if (format != null && format.type !== 'text') {
        throw badRequest('response_format', "only response_format { type: 'text' } is supported");
      }
      if (body.tool_choice != null && body.tool_choice !== 'none') {
        throw badRequest('tool_choice', 'tools are not supported by this server');
      }
      const wantLogprobs = body.logprobs === true;
      const topLogprobs = body.top_logprobs ?? 0;
      if (!wantLogprobs && topLogprobs > 0) {
        throw badRequest('top_logprobs', 'top_logprobs requires logprobs: true');
      }
      const { engine, limits } = state;
      if (topLogprobs > limits.maxTopLogprobs) {
        throw badRequest(
          'top_logprobs',
          `top_logprobs must be at most ${limits.maxTopLogprobs}, got ${topLogprobs}`,
        );
      }
      const requested = body.max_completion_tokens ?? body.max_tokens ?? undefined;
      const common = parseCommon(body, limits);
      const rendered = engine.renderChat(plainMessages(body.messages));
      const prompt = rendered.tokens;
      const maxTokensParam = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
      const decision = resolveMaxTokens(requested, prompt.length, limits, 'messages', maxTokensParam);
      const minTokens = resolveMinTokens(common.minTokens, decision.maxTokens, maxTokensParam);
      const headers: Record<string, string> = {};
      if (decision.clampedFrom !== undefined) {
        headers[MAX_TOKENS_CLAMPED_HEADER] = `${decision.clampedFrom}->${decision.maxTokens}`;
        request.log.warn(
          { requested: decision.clampedFrom, maxTokens: decision.maxTokens },
          'max_tokens clamped to fit the context',
        );
      }
      const stop = [...new Set([...common.stop, ...rendered.stop])];
      const jobs: ChoiceJob[] = Array.from({ length: common.n }, (_, i) => ({
        index: i,
        prompt,
        keepTokens: wantLogprobs,
        options: {
          ...common.sampling,
          maxTokens: decision.maxTokens,
          ...minTokens,
          stop,
          ...(common.seed === undefined ? {} : { seed: common.seed + i }),
          ...(wantLogprobs ? { topLogprobs, logprobs: true } : {}),
        },
      }));
      const plan: CompletionPlan = {
        jobs,
        stream: common.stream,
        includeUsage: common.stream && common.includeUsage,
        promptTokens: prompt.length,
        headers,
        promptForLog: body.messages,
      };
      const head: ResponseHeader = {
        id: completionId('chatcmpl'),
        created: unixSeconds(),
        model: engine.modelId,
        system_fingerprint: engine.fingerprint,
      };
      const bytesOf = (t: Parameters<typeof engine.tokenBytes>[0]) => engine.tokenBytes(t);
      const usage = plan.includeUsage;
      const presenter: Presenter = {
        streamStart: () => jobs.map((j) => chatChunk(head, [chatRoleDelta(j.index)], usage)),
        delta: (d) =>
          chatChunk(
            head,
            [chatContentDelta(d.index, d.text, wantLogprobs ? d.tokens : undefined, bytesOf)],
            usage,
          ),
        finish: (o) => chatChunk(head, [chatFinishDelta(o.index, o.finishReason)], usage),
        usageChunk: (u) => chatChunk(head, [], true, u),
        body: (outcomes, u) => chatCompletion(head, outcomes, u, bytesOf),
      };
      return serveCompletion(state, request, reply, plan, presenter);
    },
  );
}
