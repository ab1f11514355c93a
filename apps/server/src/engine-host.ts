import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import {
  type Context,
  FALLBACK_CHAT_TEMPLATE,
  type GenerateOptions,
  type GenerationChunk,
  type GenerationResult,
  type Model,
  renderChat,
  type Token,
} from '@ternion/engine';
import type { PlainMessage, RenderedChat } from './chat-template.js';

/** One generation stream with its own KV cache rows; dispose() frees them. */
export interface ServerSequence {
  generate(
    input: string | readonly Token[],
    options: GenerateOptions,
  ): AsyncGenerator<GenerationChunk, GenerationResult, undefined>;
  dispose(): void;
}

export interface KvStats {
  usedBlocks: number;
  /** Used fraction of the KV block pool, 0..1. */
  usage: number;
  prefixCacheHits: number;
  prefixCacheQueries: number;
  /** Sequences preempted since the engine started (the KV cache ran out; see kvCacheTokens). */
  preemptions: number;
}

/**
 * What the HTTP layer needs from the engine. The real one wraps a Model and one Context; tests pass a
 * wrapper to inject failures.
 */
export interface ServerEngine {
  readonly modelId: string;
  /** Unix seconds: when the model was loaded (the `created` of /v1/models). */
  readonly created: number;
  /** Identifies model file + engine configuration (`system_fingerprint`). */
  readonly fingerprint: string;
  /** Tokens one sequence can hold. */
  readonly contextSize: number;
  /** Sequences that can generate at once. */
  readonly parallel: number;
  readonly vocabSize: number;
  tokenize(text: string, options: { parseSpecial: boolean }): Token[];
  /** The bytes a token stands for (can be part of a UTF-8 character). */
  tokenBytes(token: Token): Uint8Array;
  renderChat(messages: readonly PlainMessage[]): RenderedChat;
  /** A free sequence; throws when all `parallel` are in use (the server's admission control prevents it). */
  getSequence(): ServerSequence;
  kvStats(): KvStats;
  dispose(): void;
}

export interface ModelEngineOptions {
  /** The id clients see in /v1/models and `model` (default: the file name without `.gguf`). */
  modelId?: string;
  contextSize?: number;
  parallel: number;
  batchSize?: number;
  /**
   * KV cache tokens shared by all sequences (default contextSize × parallel: never preempts). Smaller lets
   * more sequences share less memory: when it runs out the scheduler preempts the youngest sequence (its
   * blocks are freed and its tokens recomputed later; the output does not change).
   */
  kvCacheTokens?: number;
}

/** The real engine: one Model, one Context with `parallel` sequences sharing forward passes. */
export class ModelEngine implements ServerEngine {
  readonly modelId: string;
  readonly created = Math.floor(Date.now() / 1000);
  readonly fingerprint: string;
  readonly contextSize: number;
  readonly parallel: number;
  readonly vocabSize: number;

  private constructor(
    readonly model: Model,
    readonly context: Context,
    modelId: string,
  ) {
    this.modelId = modelId;
    this.contextSize = context.contextSize;
    this.parallel = context.maxSequences;
    this.vocabSize = model.config.vocabSize;
    const digest = createHash('sha256')
      .update(JSON.stringify({ path: basename(model.path), config: model.config, ctx: this.contextSize }))
      .digest('hex');
    this.fingerprint = `fp_${digest.slice(0, 10)}`;
  }

  static async create(model: Model, options: ModelEngineOptions): Promise<ModelEngine> {
    const context = await model.createContext({
      sequences: options.parallel,
      ...(options.contextSize === undefined ? {} : { contextSize: options.contextSize }),
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      ...(options.kvCacheTokens === undefined ? {} : { kvCacheTokens: options.kvCacheTokens }),
    });
    if (options.kvCacheTokens !== undefined && options.kvCacheTokens < context.contextSize) {
      context.dispose();
      // Below one full context a single long request could never fit, whatever was preempted.
      throw new RangeError(
        `kvCacheTokens must be at least the context size ${context.contextSize} (one sequence must fit), got ${options.kvCacheTokens}`,
      );
    }
    const id = options.modelId ?? basename(model.path).replace(/\.gguf$/i, '');
    return new ModelEngine(model, context, id);
  }

  tokenize(text: string, options: { parseSpecial: boolean }): Token[] {
    return this.model.tokenize(text, {
      addBos: this.model.tokenizer.addBos,
      parseSpecial: options.parseSpecial,
    });
  }

  tokenBytes(token: Token): Uint8Array {
    return this.model.tokenizer.tokenToPiece(token);
  }

  renderChat(messages: readonly PlainMessage[]): RenderedChat {
    const tok = this.model.tokenizer;
    const template = tok.chatTemplate;
    const bosToken = tok.bosId === undefined ? '' : tok.tokenText(tok.bosId);
    const eosToken = tok.eosId === undefined ? '' : tok.tokenText(tok.eosId);
    // Without a template the engine uses ChatML (llama.cpp's fallback).
    const text = renderChat(template, messages, { bosToken, eosToken });
    // The template's markers are special tokens in models that have them; a template that writes
    // bos_token itself must not get a second one.
    const wroteBos = bosToken !== '' && text.startsWith(bosToken);
    const tokens = this.model.tokenize(text, { addBos: tok.addBos && !wroteBos, parseSpecial: true });
    // A model that does not know ChatML has no end-of-turn token for `<|im_end|>`; stop on its text.
    const effective = template === undefined || template === '' ? FALLBACK_CHAT_TEMPLATE : template;
    const stop = effective.includes('<|im_end|>') ? ['<|im_end|>'] : [];
    return { tokens, stop };
  }

  getSequence(): ServerSequence {
    return this.context.getSequence();
  }

  kvStats(): KvStats {
    const kv = this.context.kv;
    return {
      usedBlocks: kv.numUsedBlocks,
      usage: kv.usage(),
      prefixCacheHits: kv.prefixCacheHits,
      prefixCacheQueries: kv.prefixCacheQueries,
      preemptions: this.context.stats.preemptions,
    };
  }

  dispose(): void {
    this.context.dispose();
  }
}
