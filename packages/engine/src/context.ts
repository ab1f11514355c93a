import { asSeqId, type SeqId, TernionError, type Token } from '@ternion/contracts';
import { KvCacheManager } from '@ternion/kvcache';
import type { Model } from './model.js';
import { ForwardPass } from './model/forward.js';
import { Sequence } from './sequence.js';

export interface ContextOptions {
  /** Tokens one sequence can hold (default: the model's trained context, at most 4096). */
  contextSize?: number;
  /** Sequences that can be live at once (default 1). */
  sequences?: number;
  /** Most tokens per forward pass (prefill chunk size; default 256). */
  batchSize?: number;
  /** Tokens per KV block (default 16). */
  blockSize?: number;
}

/** What the sequence layer asks of the context: evaluate tokens and hand back logits rows. */
interface EvalRequest {
  seq: SeqId;
  tokens: readonly Token[];
  /** Position of tokens[0] in the sequence. */
  start: number;
  /** 'last': logits of the final token only; 'all': of every token. */
  logits: 'last' | 'all';
  done: number;
  rows: Float32Array[];
  resolve(rows: Float32Array[]): void;
  reject(e: unknown): void;
}

/**
 * A context owns the KV cache and the forward-pass buffers of one model and runs forward passes one at a
 * time. Evaluation requests from all its sequences are merged into shared batches (decode tokens of every
 * sequence plus prefill chunks), so the weights are streamed once per step for all of them.
 */
export class Context {
  readonly contextSize: number;
  readonly batchSize: number;
  readonly maxSequences: number;
  readonly kv: KvCacheManager;
  readonly forward: ForwardPass;
  private readonly freeSeqIds: number[];
  private readonly queue: EvalRequest[] = [];
  private running = false;
  private disposed = false;
  private readonly sequences = new Set<Sequence>();

  constructor(
    readonly model: Model,
    options: ContextOptions = {},
  ) {
    const cfg = model.config;
    this.contextSize = options.contextSize ?? Math.min(cfg.contextLength, 4096);
    this.maxSequences = options.sequences ?? 1;
    this.batchSize = options.batchSize ?? 256;
    const blockSize = options.blockSize ?? 16;
    for (const [name, value, min] of [
      ['contextSize', this.contextSize, 1],
      ['sequences', this.maxSequences, 1],
      ['batchSize', this.batchSize, 1],
      ['blockSize', blockSize, 1],
    ] as const) {
      if (!Number.isInteger(value) || value < min) {
        throw new RangeError(`createContext: ${name} must be an integer ≥ ${min}, got ${value}`);
      }
    }
    const maxBlocksPerSeq = Math.ceil(this.contextSize / blockSize);
    const numBlocks = maxBlocksPerSeq * this.maxSequences;
    this.kv = new KvCacheManager({ numBlocks, blockSize });
    this.forward = new ForwardPass(cfg, model.weights, {
      maxBatchTokens: this.batchSize,
      maxLogits: Math.max(this.maxSequences, Math.min(this.batchSize, 64)),
      maxSeqs: this.maxSequences,
      numBlocks,
      blockSize,
      maxBlocksPerSeq,
    });
    this.freeSeqIds = Array.from({ length: this.maxSequences }, (_, i) => this.maxSequences - 1 - i);
  }

  /** A sequence with its own KV cache rows. Throws when all `sequences` are in use. */
  getSequence(): Sequence {
    this.assertLive();
    const id = this.freeSeqIds.pop();
    if (id === undefined) {
      throw new TernionError('INVALID_ARGUMENT', `context: all ${this.maxSequences} sequences are in use`, {
        hint: 'dispose a sequence first, or create the context with a larger `sequences`',
      });
    }
    const seq = new Sequence(this, asSeqId(id));
    this.sequences.add(seq);
    return seq;
  }

  /** @internal called by Sequence.dispose() */
  releaseSequence(seq: Sequence): void {
    if (!this.sequences.delete(seq)) return;
    this.kv.free(seq.id);
    this.freeSeqIds.push(seq.id);
  }

  /**
   * Evaluates `tokens` at positions start.. of `seq` and resolves with logits rows (copies). Requests from
   * several sequences share forward passes.
   */
  evaluate(seq: SeqId, tokens: readonly Token[], start: number, logits: 'last' | 'all'): Promise<Float32Array[]> {
    this.assertLive();
    if (tokens.length === 0) return Promise.resolve([]);
    if (start + tokens.length > this.contextSize) {
      return Promise.reject(
        new TernionError(
          'CONTEXT_OVERFLOW',
          `sequence ${seq}: ${start + tokens.length} tokens do not fit the context of ${this.contextSize}`,
          { hint: 'create the context with a larger contextSize, or start a new sequence' },
        ),
      );
    }
    const vocab = this.model.config.vocabSize;
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= vocab) {
        return Promise.reject(new RangeError(`sequence ${seq}: token id ${t} is not in [0, ${vocab})`));
      }
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ seq, tokens, start, logits, done: 0, rows: [], resolve, reject });
      if (!this.running) void this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.disposed) await this.step();
    } finally {
      this.running = false;
    }
  }

  /** One forward pass over as much of the queue as fits the batch. */
  private async step(): Promise<void> {
    const f = this.forward;
    const o = f.options;
    let n = 0;
    let nLogits = 0;
    const taken: { req: EvalRequest; count: number; logitFrom: number; logitCount: number }[] = [];
    for (const req of this.queue) {
      if (n >= this.batchSize || nLogits >= o.maxLogits) break;
      let count = Math.min(req.tokens.length - req.done, this.batchSize - n);
      const end = req.done + count;
      let logitCount = req.logits === 'all' ? count : end === req.tokens.length ? 1 : 0;
      if (nLogits + logitCount > o.maxLogits) {
        if (req.logits !== 'all') break;
        count = o.maxLogits - nLogits;
        logitCount = count;
      }
      if (count <= 0) break;
      const pos = req.start + req.done;
      if (!this.kv.allocateSlots(req.seq, pos + count)) {
        this.fail(req, new TernionError('KV_CACHE_FULL', `sequence ${req.seq}: no free KV blocks for ${count} more tokens`));
        continue;
      }
      this.kv.slotsFor(req.seq, pos, count, f.slots.subarray(n, n + count));
      this.kv.fillBlockTable(req.seq, f.blockTables, req.seq * o.maxBlocksPerSeq);
      for (let j = 0; j < count; j++) {
        f.tokens[n + j] = req.tokens[req.done + j]!;
        f.positions[n + j] = pos + j;
        f.tokenSeq[n + j] = req.seq;
      }
      const firstLogit = req.logits === 'all' ? n : n + count - 1;
      for (let j = 0; j < logitCount; j++) f.logitRows[nLogits + j] = firstLogit + j;
      taken.push({ req, count, logitFrom: nLogits, logitCount });
      n += count;
      nLogits += logitCount;
    }
    if (n === 0) return;
    try {
      await f.run(n, nLogits);
    } catch (e) {
      for (const t of taken) this.fail(t.req, e);
      return;
    }
    const vocab = this.model.config.vocabSize;
    for (const t of taken) {
      for (let j = 0; j < t.logitCount; j++) {
        const r = t.logitFrom + j;
        t.req.rows.push(f.logits.slice(r * vocab, (r + 1) * vocab));
      }
      t.req.done += t.count;
      if (t.req.done === t.req.tokens.length) {
        this.queue.splice(this.queue.indexOf(t.req), 1);
        t.req.resolve(t.req.rows);
      }
    }
  }

  private fail(req: EvalRequest, e: unknown): void {
    const i = this.queue.indexOf(req);
    if (i >= 0) this.queue.splice(i, 1);
    req.reject(e);
  }

  private assertLive(): void {
    if (this.disposed) throw new TernionError('DISPOSED', 'context: used after dispose()');
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    for (const s of [...this.sequences]) s.dispose();
    this.disposed = true;
    for (const req of this.queue.splice(0)) req.reject(new TernionError('DISPOSED', 'context disposed'));
    this.model.releaseContext(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}
