import type { SeqId, Token } from './ids.js';

/**
 * One forward pass over tokens of one or more sequences. Prefill chunks and decode tokens share a batch:
 * entry `i` is token `tokens[i]` of sequence `seqIds[i]` at position `positions[i]`.
 */
export interface ForwardBatch {
  /** (numTokens) */
  readonly tokens: Int32Array;
  /** (numTokens) */
  readonly positions: Int32Array;
  /** (numTokens) */
  readonly seqIds: Int32Array;
  /** (numTokens) 1 where logits are wanted for that entry. */
  readonly wantLogits: Uint8Array;
  readonly numTokens: number;
}

export interface ForwardBatchEntry {
  readonly seqId: SeqId;
  readonly token: Token;
  readonly position: number;
  readonly wantLogits: boolean;
}
