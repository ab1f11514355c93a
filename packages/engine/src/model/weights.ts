import type { ModelConfig } from '@ternion/contracts';
import { TernionError } from '@ternion/contracts';
import {
  type PackedTernary,
  packTernaryAsync,
  quantizeRowsI8Async,
  type TernaryFormat,
} from '@ternion/kernels-native';
import type { ArchitectureSpec, LayerTensor } from './architectures/index.js';
import { expectShape, requireTensor, type TensorSource, type TensorView, toFloat32 } from './tensors.js';

/** A dense matrix of `rows` rows of `cols` (the embedding / output projection), in the file's own type. */
export type DenseMatrix =
  | { kind: 'f32'; rows: number; cols: number; data: Float32Array }
  | { kind: 'f16'; rows: number; cols: number; data: Uint16Array }
  | { kind: 'q8_0'; rows: number; cols: number; data: Uint8Array }
  | { kind: 'i8'; rows: number; cols: number; data: Int8Array; scales: Float32Array };

export interface LayerWeights {
  attnNorm: Float32Array; // (n_embd)
  wq: PackedTernary; // (n_head·head_dim) × n_embd
  wk: PackedTernary; // (n_head_kv·head_dim) × n_embd
  wv: PackedTernary; // (n_head_kv·head_dim) × n_embd
  attnSubNorm: Float32Array; // (n_head·head_dim)
  wo: PackedTernary; // n_embd × (n_head·head_dim)
  ffnNorm: Float32Array; // (n_embd)
  wGate: PackedTernary; // n_ff × n_embd
  wUp: PackedTernary; // n_ff × n_embd
  ffnSubNorm: Float32Array; // (n_ff)
  wDown: PackedTernary; // n_embd × n_ff
}

export interface ModelWeights {
  tokenEmbd: DenseMatrix; // n_vocab × n_embd
  /** The output projection: `output.weight` if the file has one, else the token embedding (tied). */
  output: DenseMatrix; // n_vocab × n_embd
  outputTied: boolean;
  outputNorm: Float32Array; // (n_embd)
  layers: LayerWeights[];
  /** Bytes of weights a decode step streams (ternary projections + output matrix). */
  bytesPerToken: number;
}

export interface LoadWeightsOptions {
  /** Make a per-row int8 copy of the output matrix (halves its bytes per token vs F16). */
  outputInt8?: boolean;
  onProgress?: (done: number, total: number) => void;
}

const TERNARY: Record<string, TernaryFormat> = { TQ1_0: 'TQ1_0', TQ2_0: 'TQ2_0', I2_S: 'I2_S' };

function dense(src: TensorSource, t: TensorView, rows: number, cols: number): DenseMatrix {
  expectShape(src, t, [cols, rows]);
  const b = t.data();
  switch (t.typeName) {
    case 'F32':
      return { kind: 'f32', rows, cols, data: new Float32Array(b.buffer, b.byteOffset, rows * cols) };
    case 'F16':
      return { kind: 'f16', rows, cols, data: new Uint16Array(b.buffer, b.byteOffset, rows * cols) };
    case 'Q8_0':
      return { kind: 'q8_0', rows, cols, data: b };
    default:
      throw new TernionError(
        'MODEL_INVALID',
        `${src.path}: tensor '${t.name}' has type ${t.typeName}; Ternion reads the embedding/output as F32, F16 or Q8_0`,
      );
  }
}

async function ternary(
  src: TensorSource,
  t: TensorView,
  rows: number,
  cols: number,
  scale?: Float32Array,
): Promise<PackedTernary> {
  expectShape(src, t, [cols, rows]);
  const format = TERNARY[t.typeName];
  if (format === undefined) {
    throw new TernionError(
      'MODEL_INVALID',
      `${src.path}: tensor '${t.name}' has type ${t.typeName}; projections must be ternary (TQ1_0, TQ2_0 or I2_S)`,
    );
  }
  // Native and multithreaded, off the JS thread: loading a 2B model never blocks the event loop.
  const packed = await packTernaryAsync(format, t.data(), rows, cols);
  // llama.cpp's bitnet graph multiplies a projection's output by an optional `<name>.scale` tensor: fold it
  // into the per-row scales once, here.
  if (scale !== undefined) {
    const s = scale[0] ?? 1;
    for (let i = 0; i < packed.rowScales.length; i++) packed.rowScales[i] = packed.rowScales[i]! * s;
  }
  return packed;
}

export async function loadWeights(
  src: TensorSource,
  arch: ArchitectureSpec,
  config: ModelConfig,
  options: LoadWeightsOptions = {},
): Promise<ModelWeights> {
  const d = config.embeddingLength;
  const qDim = config.headCount * config.headDim;
  const kvDim = config.headCountKv * config.headDim;
  const ff = config.feedForwardLength;
  const v = config.vocabSize;

  const tokenEmbd = dense(src, requireTensor(src, 'token_embd.weight'), v, d);
  const outputTensor = src.tensor('output.weight');
  let output = outputTensor ? dense(src, outputTensor, v, d) : tokenEmbd;
  if (options.outputInt8 && output.kind !== 'i8' && output.kind !== 'q8_0') {
    const q = new Int8Array(v * d);
    const scales = new Float32Array(v);
    await quantizeRowsI8Async(output.data, output.kind, v, d, q, scales);
    output = { kind: 'i8', rows: v, cols: d, data: q, scales };
  }

  const total = config.blockCount;
  const layers: LayerWeights[] = [];
  let ternaryBytes = 0;
  for (let l = 0; l < config.blockCount; l++) {
    const norm = (part: LayerTensor, n: number): Float32Array => {
      const t = requireTensor(src, arch.tensorName(l, part));
      expectShape(src, t, [n]);
      return toFloat32(src, t);
    };
    const proj = async (part: LayerTensor, rows: number, cols: number): Promise<PackedTernary> => {
      const name = arch.tensorName(l, part);
      const scaleTensor = src.tensor(name.replace(/\.weight$/, '.scale'));
      const p = await ternary(
        src,
        requireTensor(src, name),
        rows,
        cols,
        scaleTensor ? toFloat32(src, scaleTensor) : undefined,
      );
      ternaryBytes += p.data.byteLength + p.rowScales.byteLength;
      return p;
    };
    layers.push({
      attnNorm: norm('attn_norm', d),
      wq: await proj('attn_q', qDim, d),
      wk: await proj('attn_k', kvDim, d),
      wv: await proj('attn_v', kvDim, d),
      attnSubNorm: norm('attn_sub_norm', qDim),
      wo: await proj('attn_output', d, qDim),
      ffnNorm: norm('ffn_norm', d),
      wGate: await proj('ffn_gate', ff, d),
      wUp: await proj('ffn_up', ff, d),
      ffnSubNorm: norm('ffn_sub_norm', ff),
      wDown: await proj('ffn_down', d, ff),
    });
    options.onProgress?.(l + 1, total);
  }
  const outputNormTensor = requireTensor(src, 'output_norm.weight');
  expectShape(src, outputNormTensor, [d]);
  return {
    tokenEmbd,
    output,
    outputTied: outputTensor === undefined,
    outputNorm: toFloat32(src, outputNormTensor),
    layers,
    bytesPerToken: ternaryBytes + denseBytes(output),
  };
}

export function denseBytes(m: DenseMatrix): number {
  return m.data.byteLength + (m.kind === 'i8' ? m.scales.byteLength : 0);
}
