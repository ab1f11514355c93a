/** Architectures Ternion runs. `bitnet-b1.58` is also spelled `bitnet-25` in some releases. */
export type Architecture = 'bitnet' | 'bitnet-b1.58';

/** The gated FFN activation: `silu(gate)·up` (1bitLLM layout) or `relu(gate)²·up` (2B-4T). */
export type FfnActivation = 'silu' | 'relu2';

export type RopeType = 'normal' | 'neox';

/**
 * How activations are quantized to int8 before a ternary matmul:
 * - `per-token`: one absmax scale per row (BitNet b1.58 paper, bitnet.cpp I2_S);
 * - `per-block-256`: one scale per 256 values (llama.cpp's Q8_K for TQ1_0/TQ2_0).
 */
export type ActivationQuantization = 'per-token' | 'per-block-256';

/** The blueprint of a model: everything a forward pass needs to know except the weights. */
export interface ModelConfig {
  readonly architecture: Architecture;
  readonly vocabSize: number;
  readonly embeddingLength: number;
  readonly blockCount: number;
  readonly feedForwardLength: number;
  readonly headCount: number;
  readonly headCountKv: number;
  readonly headDim: number;
  readonly contextLength: number;
  readonly rmsNormEps: number;
  readonly ropeType: RopeType;
  readonly ropeFreqBase: number;
  readonly ropeDimensionCount: number;
  readonly ffnActivation: FfnActivation;
  readonly activationQuantization: ActivationQuantization;
}
