/** The subset of the OpenAI wire format the server reads and writes (snake_case, as on the wire). */

export interface SamplingFields {
  model?: string;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  user?: string;
  // vLLM's extra sampling parameters (its OpenAI server accepts them on both endpoints).
  /** Generate past end-of-generation tokens. */
  ignore_eos?: boolean | null;
  /** Fewest tokens to generate before an end-of-generation token, stop token or stop string may end it. */
  min_tokens?: number | null;
  /** Token ids that end the generation like end-of-generation tokens (their text is not returned). */
  stop_token_ids?: number[] | null;
  /** > 1 discourages, < 1 encourages every token already in the prompt or the output (1 = off). */
  repetition_penalty?: number | null;
}

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';

export interface ChatMessage {
  role: ChatRole;
  content?: string | null | { type: string; text?: string }[];
  name?: string;
}

export interface ChatCompletionBody extends SamplingFields {
  messages: ChatMessage[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  [unknownField: string]: unknown;
}

export interface CompletionBody extends SamplingFields {
  prompt: string | string[] | number[] | number[][];
  logprobs?: number | null;
  echo?: boolean | null;
  suffix?: string | null;
  best_of?: number | null;
  [unknownField: string]: unknown;
}

export type OpenAiFinishReason = 'stop' | 'length';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[] | null;
  text_offset: number[];
}
