import type { ArchitectureSpec } from './architecture.js';
import { blockTensorName } from './architecture.js';

/**
 * llama.cpp's `bitnet` (the 1bitLLM bitnet_b1_58 layout; Ma et al., "The Era of 1-bit LLMs", 2024):
 * pre-norm decoder, SiLU-gated FFN, attention and FFN sub-norms before the output projections, NeoX RoPE,
 * output tied to the token embedding unless `output.weight` exists.
 */
export const bitnet: ArchitectureSpec = {
  name: 'bitnet',
  ggufNames: ['bitnet'],
  defaultFfnActivation: 'silu',
  tensorName: blockTensorName,
};
