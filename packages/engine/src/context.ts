import { asSeqId, type SeqId, TernionError, type Token } from '@ternion/contracts';
import { KvCacheManager } from '@ternion/kvcache';
import { ForwardPass, type PassProfile } from './model/forward.js';
import type { Model } from './model.js';
import { Sequence } from './sequence.js';

export interface ContextOptions {
  /** Tokens one sequence can hold (default: the model's trained context, at most 4096). */
  contextSize?: number;
  /** Sequences that can be live at once (default 1). */
  sequences?: number;
  /** Most tokens per forward pass: decode tokens of every running sequence plus prefill chunks (default 256). */
  batchSize?: number;
  /** Tokens per KV block (default 16). */
  blockSize?: number;
  /**
   * Tokens the KV cache holds over all sequences (default contextSize × sequences: never preempts). A smaller
   * cache lets more sequences share memory: when it runs out, the youngest sequence is preempted (its blocks
   * freed, its tokens recomputed later).
   */
  kvCacheTokens?: number;
}

/** What a sequence waits for: logits once its submitted tokens are computed. */
interface PendingRequest {
  logits: 'last' | 'all';
  /** With 'all': the first token position whose logits are returned. */
  logitFrom: number;
  rows: Float32Array[];
  resolve(rows: Float32Array[]): void;
  reject(e: unknown): void;
}

/** The scheduler's view of a sequence (vLLM's numComputedTokens catching up to numTokens). */
interface SeqState {
  readonly id: SeqId;
  /** Every token submitted so far; K/V of tokens[0, numComputed) are in the cache. */
  tokens: Token[];
  numComputed: number;
  /** Holds KV blocks (admitted); false after preemption until re-admitted. */
  admitted: boolean;
  /** Admission order; the youngest admitted sequence is preempted first. */
  arrival: number;
  request: PendingRequest | undefined;
  /** (vocab) the row a 'last' evaluation resolves with, reused by the sequence's next one. */
  lastRow: Float32Array | undefined;
}

export interface SchedulerStats {
  /** Forward passes run. */
  steps: number;
  /** Sequences preempted (KV freed, recomputed later). */
  preemptions: number;
  /** Prompt tokens served from the prefix cache instead of computed. */
  prefixCachedTokens: number;
}

/**
 * A context owns the KV cache and the forward-pass buffers of one model, and a scheduler in the vLLM style:
 * every step it gives each running sequence the tokens it still needs (decode tokens and prefill chunks in one
 * batch, so the weights stream once for all of them), admits waiting sequences while KV blocks allow (reusing
 * cached prefix blocks), and preempts the youngest sequence when blocks run out. Forward passes run one at a
 * time, off the JS thread.
 */
export class Context {
  readonly contextSize: number;
  readonly batchSize: number;
  readonly maxSequences: number;
  readonly kv: KvCacheManager;
  readonly forward: ForwardPass;
  readonly stats: SchedulerStats = { steps: 0, preemptions: 0, prefixCachedTokens: 0 };
  private readonly freeSeqIds: number[];
  private readonly states = new Map<number, SeqState>();
  private arrivals = 0;
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
    const kvTokens = options.kvCacheTokens ?? this.contextSize * this.maxSequences;
    for (const [name, value, min] of [
      ['contextSize', this.contextSize, 1],
      ['sequences', this.maxSequences, 1],
      ['batchSize', this.batchSize, 1],
      ['blockSize', blockSize, 1],
      ['kvCacheTokens', kvTokens, 1],
    ] as const) {
      if (!Number.isInteger(value) || value < min) {
        throw new RangeError(`createContext: ${name} must be an integer ≥ ${min}, got ${value}`);
      }
    }
    const maxBlocksPerSeq = Math.ceil(this.contextSize / blockSize);
    // At least one full context, so any single sequence can always run to its end (no deadlock).
    const numBlocks = Math.max(maxBlocksPerSeq, Math.ceil(kvTokens / blockSize));
    this.kv = new KvCacheManager({ numBlocks, blockSize });
    this.forward = new ForwardPass(cfg, model.weights, model.kernels, {
      maxBatchTokens: this.batchSize,
      maxLogits: Math.max(this.maxSequences, Math.min(this.batchSize, 64)),
      maxSeqs: this.maxSequences,
      numBlocks,
      blockSize,
      maxBlocksPerSeq,
      roundLikeLlamaCpp: model.roundLikeLlamaCpp,
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
    this.states.set(id, {
      id: asSeqId(id),
      tokens: [],
      numComputed: 0,
      admitted: false,
      arrival: 0,
      request: undefined,
      lastRow: undefined,
    });
    this.sequences.add(seq);
    return seq;
  }

  /** Sequences in use. */
  get numSequences(): number {
    return this.sequences.size;
  }

  /** Sequences waiting for a forward pass. */
  get numPending(): number {
    let n = 0;
    for (const s of this.states.values()) if (s.request) n++;
    return n;
  }

  /** @internal called by Sequence.dispose() */
  releaseSequence(seq: Sequence): void {
    if (!this.sequences.delete(seq)) return;
    this.resetSequence(seq.id);
    this.states.get(seq.id)?.request?.reject(new TernionError('ABORTED', `sequence ${seq.id} disposed`));
    this.states.delete(seq.id);
    this.freeSeqIds.push(seq.id);
  }

  /** @internal forgets a sequence's tokens and frees its KV blocks. */
  resetSequence(id: SeqId): void {
    const s = this.states.get(id);
    if (!s) return;
    if (s.admitted) this.kv.free(id);
    s.tokens = [];
    s.numComputed = 0;
    s.admitted = false;
  }

  /** @internal keeps only the first `numTokens` tokens of a sequence (rollback); frees the KV past them. */
  truncateSequence(id: SeqId, numTokens: number): void {
    const s = this.states.get(id);
    if (!s) return;
    if (s.request)
      throw new TernionError('INVALID_ARGUMENT', `sequence ${id}: cannot truncate while it evaluates`);
    if (!Number.isInteger(numTokens) || numTokens < 0)
      throw new RangeError(`truncate: numTokens must be an integer ≥ 0, got ${numTokens}`);
    if (numTokens >= s.tokens.length) return;
    s.tokens.length = numTokens;
    s.numComputed = Math.min(s.numComputed, numTokens);
    if (s.admitted && this.kv.numTokens(id) > s.numComputed) this.kv.truncate(id, s.numComputed);
  }

  /** Tokens submitted to `seq` so far. */
  numTokens(seq: SeqId): number {
    return this.states.get(seq)?.tokens.length ?? 0;
  }

  /** The tokens submitted to `seq` so far (a live view: do not modify). */
  tokensOf(seq: SeqId): readonly Token[] {
    return this.states.get(seq)?.tokens ?? [];
  }

  /**
   * Appends `tokens` to `seq`, computes them and resolves with logits rows: the last token's with 'last' (a
   * buffer of the sequence, overwritten by its next 'last' evaluation: a 128k-entry row per generated token
   * would otherwise be ~0.5 MB of garbage per token), every appended token's with 'all' (copies kept by the
   * caller, for speculative verification).
   */
  evaluate(
    seq: SeqId,
    tokens: readonly Token[],
    logits: 'last' | 'all' = 'last',
    signal?: AbortSignal,
  ): Promise<Float32Array[]> {
    this.assertLive();
    if (signal?.aborted) return Promise.reject(new TernionError('ABORTED', `sequence ${seq}: aborted`));
    const s = this.states.get(seq);
    if (!s)
      return Promise.reject(
        new TernionError('INVALID_ARGUMENT', `sequence ${seq} is not live in this context`),
      );
    if (s.request)
      return Promise.reject(
        new TernionError('INVALID_ARGUMENT', `sequence ${seq}: an evaluation is already pending`),
      );
    if (tokens.length === 0) return Promise.resolve([]);
    if (s.tokens.length + tokens.length > this.contextSize) {
      return Promise.reject(
        new TernionError(
          'CONTEXT_OVERFLOW',
          `sequence ${seq}: ${s.tokens.length + tokens.length} tokens do not fit the context of ${this.contextSize}`,
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
      const onAbort = (): void => {
        if (s.request === req) this.fail(s, new TernionError('ABORTED', `sequence ${seq}: aborted`));
      };
      const req: PendingRequest = {
        logits,
        logitFrom: s.tokens.length,
        rows: [],
        resolve: (rows) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(rows);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      s.request = req;
      for (const t of tokens) s.tokens.push(t);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!this.running) void this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    this.running = true;
    try {
      while (!this.disposed && this.numPending > 0) {
        // Let every sequence whose step just finished sample and submit its next token first (several
        // microtask hops through async generators), so the next pass batches all of them.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (!(await this.step())) break;
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Whether an admitted sequence is still computing a full block that `s` shares with it: a common prefix of
   * at least one block, not yet all computed. Only full blocks go to the prefix cache, so a shorter common
   * prefix never makes anyone wait; the sequence computing them has a request and is admitted, so it runs and
   * the wait ends (or it is preempted or fails, and then nobody waits for it). `reach`: how many of s's
   * tokens the prefix cache could serve it.
   */
  private prefillingSharedPrefix(s: SeqState, reach: number): boolean {
    if (!this.kv.enablePrefixCaching) return false;
    const bs = this.kv.blockSize;
    if (reach < bs) return false;
    for (const a of this.states.values()) {
      if (a === s || !a.admitted || a.request === undefined || a.numComputed >= a.tokens.length) continue;
      const limit = Math.min(reach, a.tokens.length);
      // Already past every block the two could share (decoding sequences): nothing to compare.
      if (a.numComputed >= Math.floor(limit / bs) * bs) continue;
      let common = 0;
      while (common < limit && s.tokens[common] === a.tokens[common]) common++;
      const sharedTokens = Math.floor(common / bs) * bs;
      if (sharedTokens > 0 && a.numComputed < sharedTokens) return true;
    }
    return false;
  }

  /** One scheduling decision and forward pass. Returns false when nothing could be scheduled. */
  private async step(): Promise<boolean> {
    const f = this.forward;
    const o = f.options;
    const bs = this.kv.blockSize;
    let n = 0;
    let nLogits = 0;
    const scheduled: { s: SeqState; count: number; logitFrom: number; logitCount: number }[] = [];
    const inBatch = new Set<SeqState>();

    // Running (admitted) sequences first, oldest first; then waiting ones in arrival order.
    const pending = [...this.states.values()].filter((s) => s.request !== undefined);
    pending.sort((a, b) => Number(b.admitted) - Number(a.admitted) || a.arrival - b.arrival);

    for (const s of pending) {
      if (n >= this.batchSize || nLogits >= o.maxLogits) break;
      const req = s.request!;
      if (!s.admitted) {
        // Rows whose logits are asked for ('all' from logitFrom on) must be computed, so the prefix cache may
        // serve only the tokens before them (its walk stops one token short of what it is given).
        const cacheable = req.logits === 'all' ? s.tokens.slice(0, req.logitFrom + 1) : s.tokens;
        // A newcomer whose first blocks another sequence is computing right now waits for them: a step or a few
        // later it takes them from the prefix cache instead of computing them again (n > 1 choices of one
        // prompt, or many users sending one system prompt at once).
        if (this.prefillingSharedPrefix(s, cacheable.length - 1)) continue;
        // Admission: reuse cached prefix blocks, never preempt a running sequence for a newcomer.
        const cached = this.kv.addSequence(s.id, cacheable);
        s.numComputed = cached;
        this.stats.prefixCachedTokens += cached;
        s.admitted = true;
        s.arrival = ++this.arrivals;
      }
      const need = s.tokens.length - s.numComputed;
      let count = Math.min(need, this.batchSize - n);
      const end = s.numComputed + count;
      const firstLogitPos =
        req.logits === 'all' ? Math.max(req.logitFrom, s.numComputed) : s.tokens.length - 1;
      let logitCount = end > firstLogitPos ? end - firstLogitPos : 0;
      if (nLogits + logitCount > o.maxLogits) {
        // shrink the chunk so its logits fit; 'last' needs its single row in this step or the next
        const room = o.maxLogits - nLogits;
        if (req.logits === 'last' || room <= 0) continue;
        count = firstLogitPos + room - s.numComputed;
        logitCount = room;
      }
      if (count <= 0) continue;
      if (!this.reserve(s, s.numComputed + count, inBatch)) {
        if (s.numComputed === 0 && !inBatch.has(s)) {
          // a newcomer that does not fit waits, holding nothing
          this.kv.free(s.id);
          s.admitted = false;
        }
        continue;
      }
      const pos = s.numComputed;
      this.kv.slotsFor(s.id, pos, count, f.slots, n);
      this.kv.fillBlockTable(s.id, f.blockTables, s.id * o.maxBlocksPerSeq);
      for (let j = 0; j < count; j++) {
        f.tokens[n + j] = s.tokens[pos + j]!;
        f.positions[n + j] = pos + j;
        f.tokenSeq[n + j] = s.id;
      }
      const firstRow = n + (logitCount > 0 ? firstLogitPos - pos : 0);
      for (let j = 0; j < logitCount; j++) f.logitRows[nLogits + j] = firstRow + j;
      scheduled.push({ s, count, logitFrom: nLogits, logitCount });
      inBatch.add(s);
      n += count;
      nLogits += logitCount;
    }
    if (n === 0) {
      // Nothing fits even after preemption: only possible if one sequence needs more than the whole cache.
      for (const s of pending)
        this.fail(s, new TernionError('KV_CACHE_FULL', `sequence ${s.id}: the KV cache cannot hold it`));
      return false;
    }

    try {
      await f.run(n, nLogits);
      this.stats.steps++;
    } catch (e) {
      for (const t of scheduled) this.fail(t.s, e);
      return true;
    }
    const vocab = this.model.config.vocabSize;
    for (const t of scheduled) {
      const { s } = t;
      const req = s.request;
      if (!req || !s.admitted) continue; // disposed or preempted meanwhile
      for (let j = 0; j < t.logitCount; j++) {
        const r = t.logitFrom + j;
        const row = f.logits.subarray(r * vocab, (r + 1) * vocab);
        if (req.logits === 'last') {
          s.lastRow ??= new Float32Array(vocab);
          s.lastRow.set(row);
          req.rows.push(s.lastRow);
        } else {
          req.rows.push(row.slice());
        }
      }
      const before = s.numComputed;
      s.numComputed += t.count;
      if (Math.floor(s.numComputed / bs) > Math.floor(before / bs))
        this.kv.commitFullBlocks(s.id, s.tokens.slice(0, s.numComputed));
      if (s.numComputed === s.tokens.length) {
        s.request = undefined;
        req.resolve(req.rows);
      }
    }
    return true;
  }

  /**
   * Makes room for `s` to hold `numTokens` tokens by preempting other sequences not in this batch (vLLM's
   * recompute preemption): idle ones first (they hold KV between generate calls; any newcomer may take it),
   * then running ones younger than `s`, youngest first. False if even that is not enough.
   */
  private reserve(s: SeqState, numTokens: number, inBatch: Set<SeqState>): boolean {
    for (;;) {
      // A shared or cached partially-filled last block must become private before it is written.
      const copies = this.kv.prepareAppend(s.id);
      if (copies !== null) {
        for (const c of copies) this.forward.copyBlock(c.src, c.dst);
        if (this.kv.allocateSlots(s.id, numTokens)) return true;
      }
      let victim: SeqState | undefined;
      for (const v of this.states.values()) {
        if (v === s || !v.admitted || inBatch.has(v)) continue;
        const better =
          !victim ||
          (v.request === undefined && victim.request !== undefined) ||
          ((v.request === undefined) === (victim.request === undefined) && v.arrival > victim.arrival);
        if (better) victim = v;
      }
      // Never preempt an older running sequence for a younger one: the younger one waits.
      if (!victim || (victim.request !== undefined && victim.arrival < s.arrival)) return false;
      this.kv.free(victim.id);
      victim.admitted = false;
      victim.numComputed = 0;
      if (victim.request) victim.request.rows = [];
      this.stats.preemptions++;
    }
  }

  private fail(s: SeqState, e: unknown): void {
    const req = s.request;
    if (!req) return;
    s.request = undefined;
    // The submitted tokens were not (all) computed: take them back so the sequence stays consistent.
    s.tokens.length = Math.min(s.tokens.length, req.logitFrom);
    s.numComputed = Math.min(s.numComputed, s.tokens.length);
    if (s.admitted && this.kv.numTokens(s.id) > s.numComputed) this.kv.truncate(s.id, s.numComputed);
    req.reject(e);
  }

  private assertLive(): void {
    if (this.disposed) throw new TernionError('DISPOSED', 'context: used after dispose()');
  }

  /**
   * Times every kernel call of the forward passes that follow (two clock reads per call); read the figures
   * with profile(). Call it while no evaluation is pending.
   */
  setProfiling(on: boolean): void {
    this.assertIdle('setProfiling');
    this.forward.setProfiling(on);
  }

  /** Per pass shape: passes run while profiling and seconds per kernel function, summed over them. */
  profile(): PassProfile[] {
    this.assertIdle('profile');
    return this.forward.profile();
  }

  resetProfile(): void {
    this.assertIdle('resetProfile');
    this.forward.resetProfile();
  }

  private assertIdle(what: string): void {
    this.assertLive();
    if (this.running) {
      throw new TernionError(
        'INVALID_ARGUMENT',
        `context.${what}: a forward pass is running; call it once every evaluation has settled`,
      );
    }
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    for (const s of [...this.sequences]) s.dispose();
    this.disposed = true;
    this.model.releaseContext(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}
