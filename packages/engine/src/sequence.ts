import { type SeqId, TernionError, type Token } from '@ternion/contracts';
import type { Context } from './context.js';
import type { SamplingOptions, TokenLogprob } from './sampling/options.js';
import { Sampler } from './sampling/sampler.js';
import { StopMatcher } from './stop-matcher.js';

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default 256). */
  maxTokens?: number;
  /**
   * Fewest tokens to generate (default 0, at most `maxTokens`), as vLLM's min_tokens: until this many are
   * out, end-of-generation tokens and `stopTokenIds` are banned (logit −Infinity) and stop strings do not
   * end the generation (one that begins before and completes after still does).
   */
  minTokens?: number;
  /** Stop when the text contains one of these; the stop string is not returned. */
  stop?: readonly string[];
  /**
   * Stop when one of these token ids is sampled (finishReason 'stop'); like an end-of-generation token, its
   * text is not returned (it is the last of `GenerationResult.tokens`).
   */
  stopTokenIds?: readonly Token[];
  /** Stop on end-of-generation tokens (default true; false goes on past them, vLLM's ignore_eos). */
  stopOnEog?: boolean;
  /** Tokenize a string input with special-token parsing (default false). */
  parseSpecial?: boolean;
  signal?: AbortSignal;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface GenerationChunk {
  /** The sampled token (with `flush`: the last one sampled, already reported by its own chunk or not shown). */
  token: Token;
  /** New text completed by this token (may be '' while a UTF-8 character or a possible stop string is pending). */
  text: string;
  /** The token's log-probability; NaN unless `logprobs` or `topLogprobs` was asked for (NaN with `flush`). */
  logprob: number;
  topLogprobs?: TokenLogprob[];
  /**
   * True on the one extra chunk that ends a generation which stopped for any reason other than a stop
   * string (end-of-generation or stop token, length, abort) while text was held back (the start of a
   * possible stop string, or bytes of an unfinished UTF-8 character). It is text without a token of its own.
   */
  flush?: true;
}

export interface GenerationResult {
  text: string;
  tokens: Token[];
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
}

/**
 * One stream of tokens with its own KV cache. `generate` continues the sequence: the input is appended to
 * what was evaluated before (the first input gets BOS when the model wants it).
 */
export class Sequence {
  /** A sampled token not yet evaluated (the last one of the previous generation). */
  private pending: Token[] = [];
  private busy = false;
  private disposed = false;

  constructor(
    readonly context: Context,
    readonly id: SeqId,
  ) {}

  /** Every token of the sequence so far. */
  get tokens(): readonly Token[] {
    return [...this.context.tokensOf(this.id), ...this.pending];
  }

  /** Tokens evaluated so far (their K/V is, or after a preemption will again be, in the cache). */
  get numEvaluated(): number {
    return this.context.numTokens(this.id);
  }

  /** Streams generated tokens with their text. Returns the whole result when done. */
  async *generate(
    input: string | readonly Token[],
    options: GenerateOptions = {},
  ): AsyncGenerator<GenerationChunk, GenerationResult, undefined> {
    this.assertLive();
    if (this.busy) throw new TernionError('INVALID_ARGUMENT', `sequence ${this.id}: already generating`);
    const model = this.context.model;
    const maxTokens = options.maxTokens ?? 256;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) {
      throw new RangeError(`generate: maxTokens must be an integer ≥ 0, got ${maxTokens}`);
    }
    const minTokens = options.minTokens ?? 0;
    if (!Number.isInteger(minTokens) || minTokens < 0 || minTokens > maxTokens) {
      throw new TernionError(
        'INVALID_ARGUMENT',
        `generate: minTokens must be an integer in [0, maxTokens = ${maxTokens}], got ${minTokens}`,
      );
    }
    const vocab = model.config.vocabSize;
    if (options.stopTokenIds !== undefined && !Array.isArray(options.stopTokenIds)) {
      throw new TernionError('INVALID_ARGUMENT', 'generate: stopTokenIds must be an array of token ids');
    }
    const stopTokenIds = new Set<number>(options.stopTokenIds ?? []);
    for (const t of stopTokenIds) {
      if (!Number.isInteger(t) || t < 0 || t >= vocab) {
        throw new TernionError(
          'INVALID_ARGUMENT',
          `generate: stopTokenIds: token id ${t} is not in [0, ${vocab})`,
        );
      }
    }
    const sampler = new Sampler(vocab, options);
    const stop = new StopMatcher(options.stop ?? []);
    const stopOnEog = options.stopOnEog ?? true;
    // vLLM's min_tokens bans every token that could end the generation, EOS even with ignore_eos
    const bannedUntilMin = [...new Set([...model.tokenizer.eogIds, ...stopTokenIds])];
    const prompt =
      typeof input === 'string'
        ? model.tokenize(input, {
            addBos: this.numEvaluated === 0 && this.pending.length === 0,
            parseSpecial: options.parseSpecial ?? false,
          })
        : [...input];
    if (prompt.length === 0 && this.pending.length === 0) {
      throw new TernionError('INVALID_ARGUMENT', 'generate: the input is empty and nothing precedes it');
    }
    this.busy = true;
    const detok = model.createDetokenizer();
    const generated: Token[] = [];
    let text = '';
    let finishReason: FinishReason = 'length';
    // A stop string cut the text: what the matcher holds is part of the stop string, never text.
    let stoppedByString = false;
    // Tokens to evaluate next. Whatever is left here when generation ends (the last sampled token, or the
    // prompt of an aborted call) becomes `pending` and is evaluated first by the next call.
    let toEval: Token[] = [...this.pending, ...prompt];
    this.pending = [];
    try {
      while (generated.length < maxTokens) {
        if (options.signal?.aborted) {
          finishReason = 'abort';
          break;
        }
        let rows: Float32Array[];
        try {
          rows = await this.context.evaluate(this.id, toEval, 'last', options.signal);
        } catch (e) {
          if (options.signal?.aborted) {
            finishReason = 'abort';
            break;
          }
          throw e;
        }
        toEval = [];
        const s = sampler.sample(rows[0]!, this.context.tokensOf(this.id), {
          numGenerated: generated.length,
          banned: generated.length < minTokens ? bannedUntilMin : [],
        });
        generated.push(s.token);
        if ((stopOnEog && model.isEog(s.token)) || stopTokenIds.has(s.token)) {
          this.pending = [s.token];
          finishReason = 'stop';
          break;
        }
        // vLLM looks for stop strings only once more than min_tokens tokens are out
        const piece = stop.push(detok.push(s.token), generated.length > minTokens);
        text += piece.text;
        const chunk: GenerationChunk = { token: s.token, text: piece.text, logprob: s.logprob };
        if (s.topLogprobs) chunk.topLogprobs = s.topLogprobs;
        if (piece.stopped) {
          this.pending = [s.token];
          finishReason = 'stop';
          stoppedByString = true;
          yield chunk;
          break;
        }
        yield chunk;
        toEval = [s.token];
      }
      if (!stoppedByString) {
        // Ended by an end-of-generation or stop token, length or abort: held-back text was text after all.
        const tail = stop.flush(detok.flush(), generated.length > minTokens);
        text += tail;
        if (tail) yield { token: generated.at(-1)!, text: tail, logprob: Number.NaN, flush: true };
      }
    } finally {
      if (toEval.length > 0) this.pending = toEval;
      this.busy = false;
    }
    return {
      text,
      tokens: generated,
      finishReason,
      promptTokens: prompt.length,
      completionTokens: generated.length,
    };
  }

  /** Generates and collects the whole text. */
  async complete(input: string | readonly Token[], options: GenerateOptions = {}): Promise<GenerationResult> {
    const it = this.generate(input, options);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
    }
  }

  /**
   * Keeps only the first `numTokens` tokens (rollback, e.g. to re-use a common prefix or drop rejected
   * speculative tokens); the KV blocks past them are freed.
   */
  truncate(numTokens: number): void {
    this.assertLive();
    if (this.busy)
      throw new TernionError('INVALID_ARGUMENT', `sequence ${this.id}: cannot truncate while generating`);
    const evaluated = this.numEvaluated;
    if (numTokens < evaluated) {
      this.context.truncateSequence(this.id, numTokens);
      this.pending = [];
    } else {
      this.pending = this.pending.slice(0, numTokens - evaluated);
    }
  }

  /** Forgets everything: frees the KV blocks and starts empty. */
  clearHistory(): void {
    this.assertLive();
    this.context.resetSequence(this.id);
    this.pending = [];
  }

  private assertLive(): void {
    if (this.disposed || this.context.isDisposed)
      throw new TernionError('DISPOSED', `sequence ${this.id}: used after dispose()`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.context.releaseSequence(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}
