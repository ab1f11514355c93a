export type { ActivationQuantization, ModelConfig, SeqId, Token } from '@ternion/contracts';
export { TernionError } from '@ternion/contracts';
export { getThreads, kernelInfo, setThreads } from '@ternion/kernels-native';
export { Context, type ContextOptions } from './context.js';
export { GgufError } from './gguf/errors.js';
export { GgufFile, type GgufTensorInfo } from './gguf/gguf-file.js';
export { openGguf, parseGguf } from './gguf/reader.js';
export type { GgufValue } from './gguf/value-types.js';
export { loadModel, type LoadModelOptions, Model, type TokenizeOptions } from './model.js';
export * from './sampling/index.js';
export {
  type FinishReason,
  type GenerateOptions,
  type GenerationChunk,
  type GenerationResult,
  Sequence,
} from './sequence.js';
export * from './synth/index.js';
