import { TernionError } from '@ternion/contracts';
import { encodeTernary, type TernaryFormat, ternaryFormatInfo } from '@ternion/kernels-native';
import { GgufWriter } from '../gguf/writer.js';
import { MODEL_SHAPES, type ModelShape } from './shapes.js';
import { llama3LikeVocab, type SyntheticVocab, spmVocab } from './synthetic-vocab.js';

export interface SynthesizeOptions {
  /** A name from MODEL_SHAPES ('tiny', '700m', '2b4t', '3b') or a shape. */
  shape: string | ModelShape;
  format: TernaryFormat;
  /** Override the shape's architecture name ('bitnet' or 'bitnet-b1.58'). */
  architecture?: 'bitnet' | 'bitnet-b1.58';
  /** Same seed ⇒ same weights, whatever the format. */
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

/** GGUF `general.file_type` (llama_ftype) of a mostly-ternary file. */
const FILE_TYPE: { readonly [F in TernaryFormat]: number } = { TQ1_0: 36, TQ2_0: 37, I2_S: 40 };

/**
 * mulberry32 (period 2^32) seeded per tensor from an FNV-1a hash of its name, so every tensor is reproducible
 * on its own. The largest synthetic tensor needs < 2^29 draws, far inside the period.
 */
class TensorRng {
  private s: number;
  constructor(seed: number, name: string) {
    let h = 2166136261 ^ seed;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
    this.s = h | 0;
  }
  /** uniform 32-bit */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** uniform in [-1, 1) */
  float(): number {
    return this.next() / 2147483648 - 1;
  }
}

function f16Round(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  // keep 10 mantissa bits, round to nearest even (normal range is all we need here)
  const lsb = (u >>> 13) & 1;
  const r = (u + 0xfff + lsb) & ~0x1fff;
  return new Float32Array(new Uint32Array([r >>> 0]).buffer)[0]!;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function f32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (exp <= 0) return sign; // tiny values flush to zero: our synthetic values are never that small
  if (exp >= 31) return sign | 0x7c00;
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return h;
}

const TRIT = Int8Array.from({ length: 256 }, (_, b) => (b % 3) - 1);

function ternaryTensor(format: TernaryFormat, rows: number, cols: number, rng: TensorRng): Uint8Array {
  const n = rows * cols;
  const values = new Int8Array(n);
  // four weights per random word: each byte picks −1/0/+1 (byte mod 3: a 1/256 bias, harmless here)
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const r = rng.next();
    values[i] = TRIT[r & 0xff]!;
    values[i + 1] = TRIT[(r >>> 8) & 0xff]!;
    values[i + 2] = TRIT[(r >>> 16) & 0xff]!;
    values[i + 3] = TRIT[r >>> 24]!;
  }
  for (; i < n; i++) values[i] = TRIT[rng.next() & 0xff]!;
  // One scale per tensor (BitNet b1.58's absmean), chosen so a projection keeps unit variance, and rounded
  // to f16 so TQ (f16 block scales) and I2_S (f32 tensor scale) hold exactly the same weights.
  const scale = f16Round(1 / Math.sqrt(cols * (2 / 3)));
  const info = ternaryFormatInfo(format);
  const scales = new Float32Array(format === 'I2_S' ? 1 : n / info.blockWeights).fill(scale);
  return encodeTernary(format, values, scales);
}

function floatTensor(type: 'F32' | 'F16', n: number, gen: () => number): Uint8Array {
  if (type === 'F32') {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = gen();
    return new Uint8Array(a.buffer);
  }
  const a = new Uint16Array(n);
  for (let i = 0; i < n; i++) a[i] = f32ToF16Bits(gen());
  return new Uint8Array(a.buffer);
}

function setTokenizer(w: GgufWriter, v: SyntheticVocab): void {
  w.setString('tokenizer.ggml.model', v.model);
  if (v.pre) w.setString('tokenizer.ggml.pre', v.pre);
  w.setArray('tokenizer.ggml.tokens', 'string', v.tokens);
  if (v.scores) w.setArray('tokenizer.ggml.scores', 'float32', v.scores);
  w.setArray('tokenizer.ggml.token_type', 'int32', v.types);
  if (v.merges) w.setArray('tokenizer.ggml.merges', 'string', v.merges);
  w.setU32('tokenizer.ggml.bos_token_id', v.bosId);
  w.setU32('tokenizer.ggml.eos_token_id', v.eosId);
  if (v.unkId !== undefined) w.setU32('tokenizer.ggml.unknown_token_id', v.unkId);
  if (v.eotId !== undefined) w.setU32('tokenizer.ggml.eot_token_id', v.eotId);
  w.setBool('tokenizer.ggml.add_bos_token', true);
  w.setBool('tokenizer.ggml.add_eos_token', false);
  if (v.model === 'llama') w.setBool('tokenizer.ggml.add_space_prefix', true);
  if (v.chatTemplate) w.setString('tokenizer.chat_template', v.chatTemplate);
}

/**
 * Builds a GGUF writer for a random-weight model at a real shape: random ternary projections (one absmean
 * scale per tensor), norms near 1, a uniform token embedding tied as output, and a synthetic tokenizer of
 * the real vocabulary size. Tensors are produced lazily while the file is written.
 */
export function synthesizeModel(options: SynthesizeOptions): GgufWriter {
  const shape = typeof options.shape === 'string' ? MODEL_SHAPES[options.shape] : options.shape;
  if (shape === undefined) {
    throw new TernionError('INVALID_ARGUMENT', `synth: unknown shape '${String(options.shape)}'`, {
      hint: `known shapes: ${Object.keys(MODEL_SHAPES).join(', ')}`,
    });
  }
  const format = options.format;
  const arch = options.architecture ?? shape.architecture;
  const seed = options.seed ?? 1;
  const d = shape.embeddingLength;
  const ff = shape.feedForwardLength;
  const headDim = d / shape.headCount;
  const kvDim = headDim * shape.headCountKv;
  if (format !== 'I2_S' && (d % 256 !== 0 || ff % 256 !== 0)) {
    throw new TernionError(
      'UNSUPPORTED',
      `synth: shape ${shape.name} has rows of ${d} and ${ff} weights; ${format} needs whole 256-weight blocks per row`,
      { hint: 'use --type I2_S for this shape' },
    );
  }

  const w = new GgufWriter();
  w.setString('general.architecture', arch);
  w.setString('general.name', `ternion-synthetic-${shape.name}`);
  w.setU32('general.file_type', FILE_TYPE[format]);
  w.setU32('general.quantization_version', 2);
  const p = arch;
  w.setU32(`${p}.vocab_size`, shape.vocabSize);
  w.setU32(`${p}.context_length`, shape.contextLength);
  w.setU32(`${p}.embedding_length`, d);
  w.setU32(`${p}.block_count`, shape.blockCount);
  w.setU32(`${p}.feed_forward_length`, ff);
  w.setU32(`${p}.attention.head_count`, shape.headCount);
  w.setU32(`${p}.attention.head_count_kv`, shape.headCountKv);
  w.setF32(`${p}.attention.layer_norm_rms_epsilon`, 1e-5);
  w.setU32(`${p}.rope.dimension_count`, headDim);
  w.setF32(`${p}.rope.freq_base`, shape.ropeFreqBase);
  setTokenizer(w, shape.tokenizer === 'spm' ? spmVocab(shape.vocabSize) : llama3LikeVocab(shape.vocabSize));

  const rngFor = (name: string): TensorRng => new TensorRng(seed, name);
  const norm = (name: string, n: number): void => {
    w.addTensor(name, 'F32', [n], () => {
      const r = rngFor(name);
      return floatTensor('F32', n, () => 1 + 0.1 * r.float());
    });
  };
  // Tied output: logit = Σ_i x_i·e_i with x RMS-normalised, so an amplitude of 6/√d gives logits with a
  // standard deviation near 3.5 at every width, like trained models (no float32 underflow of probabilities).
  // The embedding stays small next to the residual branches (unit variance each), so a token's own logit
  // does not dominate and greedy text does not just repeat its input.
  const amplitude = 6 / Math.sqrt(d);
  w.addTensor('token_embd.weight', shape.embeddingType, [d, shape.vocabSize], () => {
    const r = rngFor('token_embd.weight');
    return floatTensor(shape.embeddingType, d * shape.vocabSize, () => amplitude * r.float());
  });
  norm('output_norm.weight', d);
  const total = shape.blockCount;
  for (let l = 0; l < shape.blockCount; l++) {
    const proj = (part: string, rows: number, cols: number): void => {
      const name = `blk.${l}.${part}.weight`;
      w.addTensor(name, format, [cols, rows], () => {
        const bytes = ternaryTensor(format, rows, cols, rngFor(name));
        if (part === 'ffn_down') options.onProgress?.(l + 1, total);
        return bytes;
      });
    };
    norm(`blk.${l}.attn_norm.weight`, d);
    proj('attn_q', d, d);
    proj('attn_k', kvDim, d);
    proj('attn_v', kvDim, d);
    proj('attn_output', d, d);
    norm(`blk.${l}.attn_sub_norm.weight`, d);
    norm(`blk.${l}.ffn_norm.weight`, d);
    proj('ffn_gate', ff, d);
    proj('ffn_up', ff, d);
    norm(`blk.${l}.ffn_sub_norm.weight`, ff);
    proj('ffn_down', d, ff);
  }
  return w;
}
