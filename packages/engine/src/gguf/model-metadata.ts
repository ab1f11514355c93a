import type { ActivationQuantization, Architecture, FfnActivation, ModelConfig } from '@ternion/contracts';
import { GgufError } from './errors.js';
import type { GgufFile } from './gguf-file.js';
import { tensorTypeTraits } from './tensor-types.js';

/** `general.architecture` spellings Ternion runs, and the ModelConfig architecture each one means. */
const ARCHITECTURES: Readonly<Record<string, Architecture>> = {
  bitnet: 'bitnet',
  'bitnet-b1.58': 'bitnet-b1.58',
  'bitnet-25': 'bitnet-b1.58',
};

/**
 * Per-architecture facts the files do not record.
 * - `bitnet` (llama.cpp upstream, src/models/bitnet.cpp; 1bitLLM layout): SiLU-gated FFN, NeoX RoPE,
 *   RoPE base default 10000 (llama.cpp's rope_freq_base_train default).
 * - `bitnet-b1.58` / `bitnet-25` (bitnet.cpp build_bitnet_158, microsoft/bitnet-b1.58-2B-4T): relu²-gated
 *   FFN (LLM_FFN_RELU_SQR), NeoX RoPE with base 500000.
 */
const DEFAULTS: Readonly<Record<Architecture, { ffnActivation: FfnActivation; ropeFreqBase: number }>> = {
  bitnet: { ffnActivation: 'silu', ropeFreqBase: 10_000 },
  'bitnet-b1.58': { ffnActivation: 'relu2', ropeFreqBase: 500_000 },
};

/** Activation names a converter may record (HF `hidden_act` spellings included). */
const ACTIVATION_NAMES: Readonly<Record<string, FfnActivation>> = {
  silu: 'silu',
  swiglu: 'silu',
  swish: 'silu',
  relu2: 'relu2',
  relu_sqr: 'relu2',
  relu_squared: 'relu2',
  squared_relu: 'relu2',
};

/** Tensors whose type tells how the file's producer quantizes activations. */
const TERNARY_PROBES = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'];

/**
 * Reads the model hyper-parameters of a `bitnet`, `bitnet-b1.58` or `bitnet-25` GGUF file. Keys are
 * prefixed by `general.architecture` as written (`bitnet-25.embedding_length`). Missing required keys and
 * inconsistent values throw a GgufError naming the key.
 */
export function modelConfigFromGguf(file: GgufFile): ModelConfig {
  const archName = file.getString('general.architecture');
  const architecture = ARCHITECTURES[archName];
  if (architecture === undefined) {
    throw new GgufError(
      'GGUF_UNSUPPORTED',
      `GGUF file ${file.path}: general.architecture is '${archName}'; Ternion runs ${Object.keys(ARCHITECTURES).join(', ')}`,
    );
  }
  const p = archName;
  const invalid = (key: string, message: string) =>
    new GgufError('GGUF_INVALID', `GGUF file ${file.path}: metadata key ${key} ${message}`);
  const positive = (key: string, fallback?: number): number => {
    const v = file.getU32(key, fallback);
    if (v === 0) throw invalid(key, 'is 0; it must be positive');
    return v;
  };

  const embeddingLength = positive(`${p}.embedding_length`);
  const blockCount = positive(`${p}.block_count`);
  const feedForwardLength = positive(`${p}.feed_forward_length`);
  const contextLength = positive(`${p}.context_length`);
  const headCount = positive(`${p}.attention.head_count`);
  const headCountKv = positive(`${p}.attention.head_count_kv`, headCount);
  if (headCount % headCountKv !== 0) {
    throw invalid(
      `${p}.attention.head_count_kv`,
      `is ${headCountKv}, which does not divide head_count ${headCount}`,
    );
  }

  let headDim: number;
  if (file.has(`${p}.attention.key_length`)) {
    headDim = positive(`${p}.attention.key_length`);
  } else {
    if (embeddingLength % headCount !== 0) {
      throw invalid(
        `${p}.attention.head_count`,
        `is ${headCount}, which does not divide embedding_length ${embeddingLength} (and there is no key_length)`,
      );
    }
    headDim = embeddingLength / headCount;
  }
  const ropeDimensionCount = positive(`${p}.rope.dimension_count`, headDim);
  if (ropeDimensionCount > headDim || ropeDimensionCount % 2 !== 0) {
    throw invalid(
      `${p}.rope.dimension_count`,
      `is ${ropeDimensionCount}; it must be even and at most head_dim ${headDim}`,
    );
  }

  const rmsNormEps = file.getF32(`${p}.attention.layer_norm_rms_epsilon`);
  if (!(rmsNormEps > 0) || !Number.isFinite(rmsNormEps)) {
    throw invalid(
      `${p}.attention.layer_norm_rms_epsilon`,
      `is ${rmsNormEps}; it must be a positive finite number`,
    );
  }
  const ropeFreqBase = file.getF32(`${p}.rope.freq_base`, DEFAULTS[architecture].ropeFreqBase);
  if (!(ropeFreqBase > 0) || !Number.isFinite(ropeFreqBase)) {
    throw invalid(`${p}.rope.freq_base`, `is ${ropeFreqBase}; it must be a positive finite number`);
  }

  return {
    architecture,
    vocabSize: readVocabSize(file, p),
    embeddingLength,
    blockCount,
    feedForwardLength,
    headCount,
    headCountKv,
    headDim,
    contextLength,
    rmsNormEps,
    ropeType: 'neox',
    ropeFreqBase,
    ropeDimensionCount,
    ffnActivation: readActivation(file, p, DEFAULTS[architecture].ffnActivation),
    activationQuantization: defaultActivationQuantization(file),
  };
}

/** `<arch>.vocab_size`, else the tokenizer's token count, else token_embd's row count. */
function readVocabSize(file: GgufFile, p: string): number {
  const key = `${p}.vocab_size`;
  if (file.has(key)) {
    const v = file.getU32(key);
    if (v === 0) throw new GgufError('GGUF_INVALID', `GGUF file ${file.path}: metadata key ${key} is 0`);
    return v;
  }
  if (file.has('tokenizer.ggml.tokens')) return file.getStringArray('tokenizer.ggml.tokens').length;
  const embd = file.tensor('token_embd.weight');
  if (embd !== undefined && embd.shape.length === 2) return embd.shape[1]!;
  throw new GgufError(
    'GGUF_INVALID',
    `GGUF file ${file.path}: metadata key ${key} is missing (and there is no tokenizer.ggml.tokens or token_embd.weight to count)`,
  );
}

function readActivation(file: GgufFile, p: string, fallback: FfnActivation): FfnActivation {
  const key = `${p}.hidden_act`;
  if (!file.has(key)) return fallback;
  const name = file.getString(key);
  const activation = ACTIVATION_NAMES[name.toLowerCase()];
  if (activation === undefined) {
    throw new GgufError(
      'GGUF_UNSUPPORTED',
      `GGUF file ${file.path}: metadata key ${key} is '${name}'; supported: ${Object.keys(ACTIVATION_NAMES).join(', ')}`,
    );
  }
  return activation;
}

/**
 * What the file's producer does: bitnet.cpp quantizes activations per token for I2_S; llama.cpp quantizes
 * them per 256-value block (Q8_K, its vec_dot_type) for TQ1_0/TQ2_0. Files with unquantized projections get
 * the BitNet b1.58 paper's per-token scheme.
 */
function defaultActivationQuantization(file: GgufFile): ActivationQuantization {
  let sawBlockTernary = false;
  for (const t of file.tensors.values()) {
    if (!t.name.startsWith('blk.') || !TERNARY_PROBES.some((n) => t.name.endsWith(`.${n}.weight`))) continue;
    const traits = tensorTypeTraits(t.type);
    if (traits?.name === 'I2_S') return 'per-token';
    if (traits?.ternary) sawBlockTernary = true;
  }
  return sawBlockTernary ? 'per-block-256' : 'per-token';
}
