import type { ArchitectureSpec } from './architecture.js';
import { blockTensorName } from './architecture.js';

/**
 * bitnet.cpp's `bitnet-b1.58` (also `bitnet-25`): microsoft/bitnet-b1.58-2B-4T (Ma et al., "BitNet b1.58
 * 2B4T Technical Report", 2025). Same block as `bitnet` but the FFN is relu(gate)²·up, GQA, RoPE θ 500000,
 * F16 token embedding tied as output, llama-3 BPE tokenizer.
 */
export const bitnetB158: ArchitectureSpec = {
  name: 'bitnet-b1.58',
  ggufNames: ['bitnet-b1.58', 'bitnet-25'],
  defaultFfnActivation: 'relu2',
  tensorName: blockTensorName,
};
