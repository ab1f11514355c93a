export {
  LLAMA3_PRE_NAMES,
  type TokenizerModel,
  type TokenizerSpec,
  TokenType,
  tokenizerSpecFromMetadata,
} from './spec.js';
export { StreamingDetokenizer, type StreamingDetokenizerOptions } from './streaming-detokenizer.js';
export { type DecodeOptions, type EncodeOptions, type PieceOptions, Tokenizer } from './tokenizer.js';
