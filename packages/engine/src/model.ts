import { access } from 'node:fs/promises';
import type { ActivationQuantization, ModelConfig, Token } from '@ternion/contracts';
import { TernionError } from '@ternion/contracts';
import { getThreads, setThreads } from '@ternion/kernels-native';
import { Context, type ContextOptions } from './context.js';
import type { GgufFile } from './gguf/gguf-file.js';
import { modelConfigFromGguf } from './gguf/model-metadata.js';
import { openGguf } from './gguf/reader.js';
import { type ArchitectureSpec, architectureFor } from './model/architectures/index.js';
import { bindTernaryKernels, type TernaryKernelMode, type TernaryKernels } from './model/ternary-kernels.js';
import { loadWeights, type ModelWeights } from './model/weights.js';
import { StreamingDetokenizer, Tokenizer, tokenizerSpecFromMetadata } from './tokenizer/index.js';

export interface LoadModelOptions {
  /** Native threads for kernels (default: physical cores). */
  threads?: number;
  /**
   * Activation quantization before each ternary matmul. Default: what the file's origin uses —
   * 'per-block-256' (llama.cpp's Q8_K) for TQ1_0/TQ2_0 files, 'per-token' (bitnet.cpp) for I2_S files.
   */
  activationQuantization?: ActivationQuantization;
  /** Keep an int8 per-row copy of the output matrix (halves its bytes per token vs F16; see the bench). */
  outputInt8?: boolean;
  /**
   * Ternary GEMM per projection: 'auto' (default) measures the multiply-add and T-MAC lookup-table kernels
   * per weight shape and batch size once per machine and keeps the faster; 'mad' / 'lut' force one.
   */
  ternaryKernel?: TernaryKernelMode;
  /**
   * Compute like llama.cpp's CPU backend (default false): Q and the softmax probabilities rounded to f16 in
   * attention (its non-flash path multiplies the f16 K/V cache by f16 copies of them), the final hidden state
   * rounded to f16 before an F16 output matrix, and per-block ternary dot products summed in its 8-lane float
   * order. Slower (a scalar two-pass attention, an untiled GEMM) and no more accurate: it exists so Ternion
   * can be checked against llama.cpp on the same file, where random-weight models amplify any rounding
   * difference into different text.
   */
  roundLikeLlamaCpp?: boolean;
  /** Load progress: layers converted so far. */
  onProgress?: (progress: { done: number; total: number }) => void;
}

export interface TokenizeOptions {
  /** Prepend BOS when the model asks for it (default true). */
  addBos?: boolean;
  /** Turn special-token text like `<|eot_id|>` into the special token (default false). */
  parseSpecial?: boolean;
}

/** A loaded model: config, weights (memory-mapped), tokenizer. Create contexts to run it. */
export class Model {
  private readonly contexts = new Set<Context>();
  private disposed = false;

  private constructor(
    readonly path: string,
    readonly file: GgufFile,
    readonly architecture: ArchitectureSpec,
    readonly config: ModelConfig,
    readonly weights: ModelWeights,
    readonly kernels: TernaryKernels,
    readonly tokenizer: Tokenizer,
    /** See LoadModelOptions.roundLikeLlamaCpp. */
    readonly roundLikeLlamaCpp: boolean,
  ) {}

  /** @internal use loadModel() */
  static async load(path: string, options: LoadModelOptions = {}): Promise<Model> {
    if (typeof path !== 'string' || path.length === 0)
      throw new TypeError('loadModel: path must be a non-empty string');
    try {
      await access(path);
    } catch (cause) {
      throw new TernionError('INVALID_ARGUMENT', `loadModel: cannot read model file '${path}'`, {
        cause,
        hint: 'check the path; `ternion synth` writes a synthetic model if you need one',
      });
    }
    const roundLikeLlamaCpp = options.roundLikeLlamaCpp ?? false;
    if (typeof roundLikeLlamaCpp !== 'boolean')
      throw new TypeError('loadModel: roundLikeLlamaCpp must be a boolean');
    if (roundLikeLlamaCpp && options.ternaryKernel === 'lut') {
      throw new TernionError(
        'INVALID_ARGUMENT',
        "loadModel: roundLikeLlamaCpp needs the multiply-add ternary kernel (llama.cpp's float order)",
        { hint: "drop ternaryKernel: 'lut', or roundLikeLlamaCpp" },
      );
    }
    if (options.threads !== undefined) setThreads(options.threads);
    const file = openGguf(path);
    const archName = file.getString('general.architecture');
    const arch = architectureFor(archName);
    if (arch === undefined) {
      throw new TernionError('GGUF_UNSUPPORTED', `${path}: architecture '${archName}' is not supported`, {
        hint: "Ternion runs 'bitnet' (llama.cpp) and 'bitnet-b1.58' / 'bitnet-25' (bitnet.cpp) models",
      });
    }
    let config = modelConfigFromGguf(file);
    if (options.activationQuantization !== undefined) {
      config = { ...config, activationQuantization: options.activationQuantization };
    }
    const tokenizer = new Tokenizer(tokenizerSpecFromMetadata((key) => file.get(key)?.value));
    // Weight conversion runs natively off the JS thread, tensor by tensor, so a server stays live.
    const weights = await loadWeights(file, arch, config, {
      outputInt8: options.outputInt8 ?? false,
      onProgress: (done, total) => options.onProgress?.({ done, total }),
    });
    const kernels = bindTernaryKernels(
      weights,
      roundLikeLlamaCpp ? 'mad' : (options.ternaryKernel ?? 'auto'),
      config.activationQuantization,
    );
    return new Model(path, file, arch, config, weights, kernels, tokenizer, roundLikeLlamaCpp);
  }

  get threads(): number {
    return getThreads();
  }

  tokenize(text: string, options: TokenizeOptions = {}): Token[] {
    const ids = this.tokenizer.encode(text, {
      addBos: options.addBos ?? true,
      parseSpecial: options.parseSpecial ?? false,
    });
    return Array.from(ids) as Token[];
  }

  detokenize(tokens: readonly Token[] | Int32Array, options: { special?: boolean } = {}): string {
    return this.tokenizer.decode(tokens, options);
  }

  /** @internal a fresh streaming detokenizer (emits whole UTF-8 characters only). */
  createDetokenizer(): StreamingDetokenizer {
    return new StreamingDetokenizer(this.tokenizer);
  }

  isEog(token: Token): boolean {
    return this.tokenizer.isEog(token);
  }

  async createContext(options: ContextOptions = {}): Promise<Context> {
    this.assertLive();
    const ctx = new Context(this, options);
    this.contexts.add(ctx);
    return ctx;
  }

  /** @internal */
  releaseContext(ctx: Context): void {
    this.contexts.delete(ctx);
  }

  private assertLive(): void {
    if (this.disposed) throw new TernionError('DISPOSED', 'model: used after dispose()');
  }

  /** Disposes every context, then drops the weights (the mapping is released when garbage-collected). */
  dispose(): void {
    if (this.disposed) return;
    for (const c of [...this.contexts]) c.dispose();
    this.disposed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}

/** Opens a GGUF model (bitnet / bitnet-b1.58; TQ1_0, TQ2_0 or I2_S weights). */
export function loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
  return Model.load(path, options);
}
