import type { ModelConfig } from '@ternion/contracts';
import {
  add,
  allocQuantizedActivations,
  embeddingGather,
  kvCacheElements,
  kvWrite,
  matmulF16,
  matmulF32,
  matmulI8,
  matmulI8ScratchBytes,
  matmulQ8_0,
  type Program,
  pagedAttention,
  type QuantizedActivations,
  quantizeActivations,
  recordProgram,
  relu2Mul,
  rmsNorm,
  rope,
  ropeTable,
  roundToF16,
  siluMul,
  ternaryMatmulGroup,
} from '@ternion/kernels-native';
import type { TernaryLinear } from '@ternion/tmac';
import type { TernaryKernels } from './ternary-kernels.js';
import type { DenseMatrix, ModelWeights } from './weights.js';

/** What the forward passes of one shape cost, by kernel (see ForwardPass.profile). */
export interface PassProfile {
  /** Batch entries and logit rows of the pass. */
  readonly tokens: number;
  readonly logits: number;
  /** Passes profiled. */
  readonly passes: number;
  /** Kernel function name (e.g. 'ternaryMatmul', 'matmulF16', 'pagedAttention') → seconds over those passes. */
  readonly seconds: ReadonlyMap<string, number>;
}

export interface ForwardPassOptions {
  /** Most tokens in one forward pass (prefill chunk + decode tokens). */
  maxBatchTokens: number;
  /** Most rows of logits one pass returns. */
  maxLogits: number;
  /** Most sequences with a block table. */
  maxSeqs: number;
  /** KV blocks in the arena and tokens per block. */
  numBlocks: number;
  blockSize: number;
  /** Block-table width: ceil(context length / blockSize). */
  maxBlocksPerSeq: number;
  /** Round where llama.cpp's CPU path rounds (see LoadModelOptions.roundLikeLlamaCpp). */
  roundLikeLlamaCpp?: boolean;
}

/**
 * The BitNet b1.58 forward pass over one batch of tokens from one or more sequences (Ma et al., "The Era
 * of 1-bit LLMs", 2024; Wang et al., "BitNet", 2023): each projection is a BitLinear — RMSNorm'd input,
 * int8 absmax activations, ternary weights — and attention reads K/V through paged block tables.
 *
 * Every buffer is allocated here, once. A pass is recorded as a native Program per (tokens, logits) shape and
 * replayed: the caller writes token ids, positions, slots and block tables into the input buffers and calls
 * run(); the whole pass executes off the JS thread in one native call.
 */
export class ForwardPass {
  // ---- inputs, written by the caller before run() ----
  readonly tokens: Int32Array; // (maxBatchTokens) token id of batch entry i
  readonly positions: Int32Array; // (maxBatchTokens) absolute position of entry i in its sequence
  readonly slots: Int32Array; // (maxBatchTokens) KV slot entry i writes (block·blockSize + pos % blockSize)
  readonly tokenSeq: Int32Array; // (maxBatchTokens) row of blockTables that entry i attends through
  readonly logitRows: Int32Array; // (maxLogits) batch entries whose logits are wanted, in output order
  readonly blockTables: Int32Array; // (maxSeqs, maxBlocksPerSeq)
  // ---- output ----
  readonly logits: Float32Array; // (maxLogits, n_vocab)

  // ---- activations ----
  private readonly x: Float32Array; // (maxBatchTokens, n_embd) residual stream
  private readonly xn: Float32Array; // (maxBatchTokens, n_embd) normalised input of a sub-layer
  private readonly q: Float32Array; // (maxBatchTokens, n_head·head_dim)
  private readonly k: Float32Array; // (maxBatchTokens, n_head_kv·head_dim)
  private readonly v: Float32Array; // (maxBatchTokens, n_head_kv·head_dim)
  private readonly attn: Float32Array; // (maxBatchTokens, n_head·head_dim)
  private readonly proj: Float32Array; // (maxBatchTokens, n_embd) output of attn_output / ffn_down
  private readonly gate: Float32Array; // (maxBatchTokens, n_ff)
  private readonly up: Float32Array; // (maxBatchTokens, n_ff)
  private readonly xLogits: Float32Array; // (maxLogits, n_embd) final hidden states of the wanted rows
  private readonly rotations: Float32Array; // (maxBatchTokens, rope_dim) cos/sin of each entry's position
  private readonly qEmbd: QuantizedActivations; // int8 (maxBatchTokens, n_embd)
  private readonly qAttn: QuantizedActivations; // int8 (maxBatchTokens, n_head·head_dim)
  private readonly qFf: QuantizedActivations; // int8 (maxBatchTokens, n_ff)
  private readonly i8Scratch: Int8Array; // matmulI8's int8 copy of the final hidden states
  // [bad entries, first bad entry] written by kernels that read ids at run time; checked after each run
  private readonly embedStatus = new Int32Array(2);
  private readonly logitRowStatus = new Int32Array(2);
  private readonly kvStatus = new Int32Array(2);
  private readonly attnStatus = new Int32Array(2);

  // ---- KV arena, per layer, f16: K (numBlocks, n_head_kv, head_dim, blockSize), V (numBlocks, n_head_kv, blockSize, head_dim) ----
  readonly kCache: Uint16Array[];
  readonly vCache: Uint16Array[];

  private readonly programs = new Map<string, Program>();
  private profiling = false;

  constructor(
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly kernels: TernaryKernels,
    readonly options: ForwardPassOptions,
  ) {
    const T = options.maxBatchTokens;
    const L = options.maxLogits;
    const d = config.embeddingLength;
    const qDim = config.headCount * config.headDim;
    const kvDim = config.headCountKv * config.headDim;
    const ff = config.feedForwardLength;
    const mode = config.activationQuantization;
    this.tokens = new Int32Array(T);
    this.positions = new Int32Array(T);
    this.slots = new Int32Array(T);
    this.tokenSeq = new Int32Array(T);
    this.logitRows = new Int32Array(L);
    this.blockTables = new Int32Array(options.maxSeqs * options.maxBlocksPerSeq);
    this.logits = new Float32Array(L * config.vocabSize);
    this.x = new Float32Array(T * d);
    this.xn = new Float32Array(T * d);
    this.q = new Float32Array(T * qDim);
    this.k = new Float32Array(T * kvDim);
    this.v = new Float32Array(T * kvDim);
    this.attn = new Float32Array(T * qDim);
    this.proj = new Float32Array(T * d);
    this.gate = new Float32Array(T * ff);
    this.up = new Float32Array(T * ff);
    this.xLogits = new Float32Array(L * d);
    this.rotations = new Float32Array(T * config.ropeDimensionCount);
    // llama.cpp's per-block dot products sum in their own float order; reproduce it when asked to round like it
    const dot = options.roundLikeLlamaCpp && mode === 'per-block-256' ? 'llama.cpp' : 'ternion';
    this.qEmbd = allocQuantizedActivations(T, d, mode, { dot });
    this.qAttn = allocQuantizedActivations(T, qDim, mode, { dot });
    this.qFf = allocQuantizedActivations(T, ff, mode, { dot });
    this.i8Scratch = new Int8Array(weights.output.kind === 'i8' ? matmulI8ScratchBytes(L, d) : 0);
    const kvPerLayer = kvCacheElements({
      numBlocks: options.numBlocks,
      blockSize: options.blockSize,
      nKvHeads: config.headCountKv,
      headDim: config.headDim,
    });
    this.kCache = Array.from({ length: config.blockCount }, () => new Uint16Array(kvPerLayer));
    this.vCache = Array.from({ length: config.blockCount }, () => new Uint16Array(kvPerLayer));
  }

  /** Bytes held by the KV arena. */
  get kvBytes(): number {
    return this.kCache.reduce((s, a) => s + a.byteLength, 0) * 2;
  }

  /** Copies every layer's K and V of block `src` into block `dst` (copy-on-write of a shared block). */
  copyBlock(src: number, dst: number): void {
    const per = this.kCache[0]!.length / this.options.numBlocks;
    for (const arena of [...this.kCache, ...this.vCache])
      arena.copyWithin(dst * per, src * per, (src + 1) * per);
  }

  /** Runs the pass over batch entries [0, numTokens) and fills logits rows [0, numLogits). */
  async run(numTokens: number, numLogits: number): Promise<void> {
    await this.program(numTokens, numLogits).runAsync();
    this.checkStatus();
  }

  /** The same, on the calling thread (tests and tiny models). */
  runSync(numTokens: number, numLogits: number): void {
    this.program(numTokens, numLogits).run();
    this.checkStatus();
  }

  /** Times every kernel call of the passes that follow (call between passes, not during one). */
  setProfiling(on: boolean): void {
    this.profiling = on;
    for (const p of this.programs.values()) p.setProfiling(on);
  }

  /**
   * Per pass shape (tokens, logits rows) profiled since the last reset: passes run and seconds per kernel
   * function, summed over those passes. Programs evicted from the shape cache take their figures with them.
   */
  profile(): PassProfile[] {
    const out: PassProfile[] = [];
    for (const [key, p] of this.programs) {
      const { runs, calls } = p.profile();
      if (runs === 0) continue;
      const [tokens, logits] = key.split(':').map(Number) as [number, number];
      const seconds = new Map<string, number>();
      for (const c of calls) seconds.set(c.kernel, (seconds.get(c.kernel) ?? 0) + c.seconds);
      out.push({ tokens, logits, passes: runs, seconds });
    }
    return out;
  }

  resetProfile(): void {
    for (const p of this.programs.values()) p.resetProfile();
  }

  /** Kernels that read ids at run time skip bad ones and count them; a bad id is a caller bug. */
  private checkStatus(): void {
    for (const [what, s] of [
      ['token id', this.embedStatus],
      ['logit row', this.logitRowStatus],
      ['KV slot', this.kvStatus],
      ['attention block table entry', this.attnStatus],
    ] as const) {
      if (s[0] !== 0) {
        throw new RangeError(
          `forward: ${s[0]} batch entries had an out-of-range ${what} (first: entry ${s[1]})`,
        );
      }
    }
  }

  private program(numTokens: number, numLogits: number): Program {
    if (!Number.isInteger(numTokens) || numTokens < 1 || numTokens > this.options.maxBatchTokens) {
      throw new RangeError(`forward: numTokens ${numTokens} is outside [1, ${this.options.maxBatchTokens}]`);
    }
    if (!Number.isInteger(numLogits) || numLogits < 0 || numLogits > this.options.maxLogits) {
      throw new RangeError(`forward: numLogits ${numLogits} is outside [0, ${this.options.maxLogits}]`);
    }
    const key = `${numTokens}:${numLogits}`;
    let p = this.programs.get(key);
    if (p === undefined) {
      if (this.programs.size >= 64) this.programs.delete(this.programs.keys().next().value!);
      p = recordProgram(() => this.record(numTokens, numLogits));
      if (this.profiling) p.setProfiling(true);
      this.programs.set(key, p);
    }
    return p;
  }

  /** The forward pass, as it reads in the paper. Every call below is recorded, not run. */
  private record(n: number, nLogits: number): void {
    const c = this.config;
    const w = this.weights;
    const o = this.options;
    const d = c.embeddingLength;
    const qDim = c.headCount * c.headDim;
    const ff = c.feedForwardLength;
    const eps = c.rmsNormEps;
    const neox = c.ropeType === 'neox';
    const attnScale = 1 / Math.sqrt(c.headDim);
    const ffnAct = c.ffnActivation === 'relu2' ? relu2Mul : siluMul;

    // x = token_embd[tokens]
    gatherRows(w.tokenEmbd, this.tokens, n, this.x, this.embedStatus);
    // RoPE's cos/sin of every entry's position, once for the q and k of every layer
    ropeTable(this.positions, n, c.ropeDimensionCount, c.ropeFreqBase, this.rotations);

    for (let l = 0; l < c.blockCount; l++) {
      const L = w.layers[l]!;
      const P = this.kernels.layers[l]!; // the projections, each on its chosen ternary kernel
      // ---- attention: x += W_o · sub_norm(Attn(RoPE(W_q·n), RoPE(W_k·n), W_v·n)), n = attn_norm(x) ----
      rmsNorm(this.x, L.attnNorm, n, d, eps, this.xn);
      quantizeActivations(this.xn, n, this.qEmbd);
      runLinears([P.q, P.k, P.v], this.qEmbd, n, [this.q, this.k, this.v]);
      rope(
        this.q,
        this.positions,
        n,
        c.headCount,
        c.headDim,
        c.ropeDimensionCount,
        c.ropeFreqBase,
        neox,
        this.rotations,
      );
      rope(
        this.k,
        this.positions,
        n,
        c.headCountKv,
        c.headDim,
        c.ropeDimensionCount,
        c.ropeFreqBase,
        neox,
        this.rotations,
      );
      // llama.cpp multiplies the f16 K cache by Q converted to f16
      if (o.roundLikeLlamaCpp) roundToF16(this.q, n * qDim);
      kvWrite(
        this.kCache[l]!,
        this.vCache[l]!,
        o.numBlocks,
        o.blockSize,
        c.headCountKv,
        c.headDim,
        this.k,
        this.v,
        this.slots,
        n,
        this.kvStatus,
      );
      pagedAttention(
        this.q,
        this.kCache[l]!,
        this.vCache[l]!,
        o.numBlocks,
        o.blockSize,
        c.headCount,
        c.headCountKv,
        c.headDim,
        this.blockTables,
        o.maxBlocksPerSeq,
        this.tokenSeq,
        this.positions,
        n,
        attnScale,
        this.attn,
        this.attnStatus,
        o.roundLikeLlamaCpp ?? false, // … and the f16 V cache by the probabilities converted to f16
      );
      rmsNorm(this.attn, L.attnSubNorm, n, qDim, eps, this.attn);
      quantizeActivations(this.attn, n, this.qAttn);
      P.o.run(this.qAttn, n, this.proj);
      add(this.x, this.proj, this.x, n * d);

      // ---- FFN: x += W_down · sub_norm(act(W_gate·m) ⊙ W_up·m), m = ffn_norm(x) ----
      rmsNorm(this.x, L.ffnNorm, n, d, eps, this.xn);
      quantizeActivations(this.xn, n, this.qEmbd);
      runLinears([P.gate, P.up], this.qEmbd, n, [this.gate, this.up]);
      ffnAct(this.gate, this.up, this.gate, n * ff);
      rmsNorm(this.gate, L.ffnSubNorm, n, ff, eps, this.gate);
      quantizeActivations(this.gate, n, this.qFf);
      P.down.run(this.qFf, n, this.proj);
      add(this.x, this.proj, this.x, n * d);
    }

    if (nLogits === 0) return;
    // logits = output · output_norm(x[logitRows])
    embeddingGather(this.x, 'f32', n, d, this.logitRows, nLogits, this.xLogits, this.logitRowStatus);
    rmsNorm(this.xLogits, w.outputNorm, nLogits, d, eps, this.xLogits);
    // llama.cpp converts the activations to f16 for an f16 matrix
    if (o.roundLikeLlamaCpp && w.output.kind === 'f16') roundToF16(this.xLogits, nLogits * d);
    denseMatmul(w.output, this.xLogits, nLogits, this.logits, this.i8Scratch);
  }
}

/**
 * Projections of one activation batch (q, k, v; gate, up): one native call for all of them when they all run
 * the multiply-add kernel at this batch size (one pool job, the activations interleaved once), else one
 * call each. Same bits either way. Measured on the 700m model (step profiler, both variants loaded in one
 * process, alternating, medians of 10, four runs): 1-row pass 1.00-1.19x, 16-row pass 0.99-1.10x faster.
 */
function runLinears(
  linears: readonly TernaryLinear[],
  a: QuantizedActivations,
  n: number,
  ys: readonly Float32Array[],
): void {
  if (linears.every((l) => l.kernelFor(n) === 'mad')) {
    ternaryMatmulGroup(
      linears.map((l) => l.mad),
      a,
      n,
      ys,
    );
    return;
  }
  for (let i = 0; i < linears.length; i++) linears[i]!.run(a, n, ys[i]!);
}

function gatherRows(m: DenseMatrix, ids: Int32Array, n: number, out: Float32Array, status: Int32Array): void {
  if (m.kind === 'i8') throw new Error('an int8 copy is only made of the output matrix');
  embeddingGather(m.data, m.kind, m.rows, m.cols, ids, n, out, status);
}

function denseMatmul(
  m: DenseMatrix,
  x: Float32Array,
  n: number,
  y: Float32Array,
  i8Scratch: Int8Array,
): void {
  switch (m.kind) {
    case 'f32':
      matmulF32(m.data, x, n, m.rows, m.cols, y);
      return;
    case 'f16':
      matmulF16(m.data, x, n, m.rows, m.cols, y);
      return;
    case 'q8_0':
      matmulQ8_0(m.data, x, n, m.rows, m.cols, y);
      return;
    case 'i8':
      matmulI8(m.data, m.scales, x, n, m.rows, m.cols, y, i8Scratch);
      return;
  }
}
