export type { ActivationQuantization, ModelConfig, SeqId, Token } from '@ternion/contracts';
export { TernionError } from '@ternion/contracts';
export { getThreads, kernelInfo, setThreads } from '@ternion/kernels-native';
export * from './chat/index.js';
export { ChatSession, type ChatSessionOptions } from './chat-session.js';
export { Context, type ContextOptions } from './context.js';
export * from './gguf/index.js';
export type { PassProfile } from './model/forward.js';
export type { TernaryKernelMode } from './model/ternary-kernels.js';
export { type LoadModelOptions, loadModel, Model, type TokenizeOptions } from './model.js';
export * from './sampling/index.js';
export {
  type FinishReason,
  type GenerateOptions,
  type GenerationChunk,
  type GenerationResult,
  Sequence,
} from './sequence.js';
export * from './synth/index.js';
export * from './tokenizer/index.js';
