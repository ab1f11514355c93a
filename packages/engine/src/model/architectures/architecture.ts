import type { Architecture, FfnActivation } from '@ternion/contracts';

/**
 * What differs between the BitNet b1.58 variants Ternion runs. The forward pass itself is shared
 * (model/forward.ts); an architecture only names its tensors and picks the FFN activation.
 */
export interface ArchitectureSpec {
  readonly name: Architecture;
  /** GGUF `general.architecture` spellings that map here. */
  readonly ggufNames: readonly string[];
  /** The FFN activation when the file does not say. */
  readonly defaultFfnActivation: FfnActivation;
  /** Tensor name of layer `i`'s parameter `part`. */
  tensorName(layer: number, part: LayerTensor): string;
}

export type LayerTensor =
  | 'attn_norm'
  | 'attn_q'
  | 'attn_k'
  | 'attn_v'
  | 'attn_output'
  | 'attn_sub_norm'
  | 'ffn_norm'
  | 'ffn_gate'
  | 'ffn_up'
  | 'ffn_down'
  | 'ffn_sub_norm';

export const blockTensorName = (layer: number, part: LayerTensor): string => `blk.${layer}.${part}.weight`;
