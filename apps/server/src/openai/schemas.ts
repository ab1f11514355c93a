/**
 * JSON schemas of the request bodies, compiled by fastify's ajv (with type coercion OFF, see server.ts).
 *
 * additionalProperties: true on purpose. OpenAI adds optional fields often (`user`, `store`, `metadata`,
 * `service_tier`, ...); a client library that sends one we do not know must still work, so unknown fields
 * are ignored. Known fields are typed strictly: a wrong type or range is a 400 naming the field. Known
 * fields whose meaning we cannot honour (`tools`, `echo`, `suffix`, a JSON `response_format`, ...) are
 * rejected by the route with a 400 naming them rather than silently ignored.
 */

const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });

const tokenId = { type: 'integer', minimum: 0 };

/** Fields shared by both endpoints (sampling, limits, streaming). */
const commonProperties = {
  model: { type: 'string' },
  max_tokens: nullable({ type: 'integer', minimum: 1 }),
  temperature: nullable({ type: 'number', minimum: 0, maximum: 2 }),
  top_p: nullable({ type: 'number', minimum: 0, maximum: 1 }),
  // -1 is vLLM's "off", 0 ours (and llama.cpp's): both accepted.
  top_k: nullable({ type: 'integer', minimum: -1 }),
  min_p: nullable({ type: 'number', minimum: 0, maximum: 1 }),
  seed: nullable({ type: 'integer' }),
  stop: nullable({
    anyOf: [{ type: 'string' }, { type: 'array', maxItems: 16, items: { type: 'string' } }],
  }),
  n: nullable({ type: 'integer', minimum: 1, maximum: 128 }),
  presence_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
  frequency_penalty: nullable({ type: 'number', minimum: -2, maximum: 2 }),
  logit_bias: nullable({
    type: 'object',
    propertyNames: { pattern: '^[0-9]{1,9}$' },
    additionalProperties: { type: 'number', minimum: -100, maximum: 100 },
  }),
  stream: nullable({ type: 'boolean' }),
  stream_options: nullable({
    type: 'object',
    properties: { include_usage: { type: 'boolean' } },
  }),
  user: { type: 'string' },
  // vLLM's extras (a vLLM client sends them; checked here, mapped in request-options.ts).
  ignore_eos: nullable({ type: 'boolean' }),
  min_tokens: nullable({ type: 'integer', minimum: 0 }),
  stop_token_ids: nullable({ type: 'array', items: tokenId }),
  repetition_penalty: nullable({ type: 'number', exclusiveMinimum: 0 }),
} as const;

const contentPart = {
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string' }, text: { type: 'string' } },
};

export const chatCompletionBodySchema = {
  type: 'object',
  required: ['messages'],
  additionalProperties: true,
  properties: {
    ...commonProperties,
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role'],
        properties: {
          role: { enum: ['system', 'developer', 'user', 'assistant', 'tool', 'function'] },
          content: { anyOf: [{ type: 'string' }, { type: 'null' }, { type: 'array', items: contentPart }] },
          name: { type: 'string' },
        },
      },
    },
    max_completion_tokens: nullable({ type: 'integer', minimum: 1 }),
    logprobs: nullable({ type: 'boolean' }),
    top_logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
  },
} as const;

export const completionBodySchema = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: true,
  properties: {
    ...commonProperties,
    prompt: {
      anyOf: [
        { type: 'string' },
        { type: 'array', minItems: 1, items: { type: 'string' } },
        { type: 'array', minItems: 1, items: tokenId },
        { type: 'array', minItems: 1, items: { type: 'array', minItems: 1, items: tokenId } },
      ],
    },
    logprobs: nullable({ type: 'integer', minimum: 0, maximum: 20 }),
    echo: nullable({ type: 'boolean' }),
    suffix: nullable({ type: 'string' }),
    best_of: nullable({ type: 'integer', minimum: 1 }),
  },
} as const;

/** What a field must look like, for 400 messages where ajv would only say "must match a schema in anyOf". */
export const fieldExpectations: Readonly<Record<string, string>> = {
  prompt: 'a string, an array of strings, an array of token ids or an array of token-id arrays',
  stop: 'a string or an array of at most 16 strings',
  content: 'a string, null, or an array of content parts',
};
