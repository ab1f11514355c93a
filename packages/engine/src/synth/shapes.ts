import type { Architecture } from '@ternion/contracts';

/** Hyper-parameters of a model shape `ternion synth` can write. */
export interface ModelShape {
  readonly name: string;
  readonly description: string;
  readonly architecture: Architecture;
  readonly vocabSize: number;
  readonly embeddingLength: number;
  readonly blockCount: number;
  readonly headCount: number;
  readonly headCountKv: number;
  readonly feedForwardLength: number;
  readonly contextLength: number;
  readonly ropeFreqBase: number;
  /** The tokenizer family the real model uses. */
  readonly tokenizer: 'spm' | 'bpe-llama3';
  /** Type of token_embd (tied output). */
  readonly embeddingType: 'F32' | 'F16';
}

export const MODEL_SHAPES: Readonly<Record<string, ModelShape>> = {
  tiny: {
    name: 'tiny',
    description: 'a small test model (the bundled TinyStories model’s shape with 4 layers)',
    architecture: 'bitnet',
    vocabSize: 2048,
    embeddingLength: 256,
    blockCount: 4,
    headCount: 4,
    headCountKv: 2,
    feedForwardLength: 768,
    contextLength: 512,
    ropeFreqBase: 10000,
    tokenizer: 'spm',
    embeddingType: 'F32',
  },
  '700m': {
    name: '700m',
    description: '1bitLLM/bitnet_b1_58-large',
    architecture: 'bitnet',
    vocabSize: 32002,
    embeddingLength: 1536,
    blockCount: 24,
    headCount: 16,
    headCountKv: 16,
    feedForwardLength: 4096,
    contextLength: 2048,
    ropeFreqBase: 10000,
    tokenizer: 'spm',
    embeddingType: 'F16',
  },
  '2b4t': {
    name: '2b4t',
    description: 'microsoft/bitnet-b1.58-2B-4T',
    architecture: 'bitnet-b1.58',
    vocabSize: 128256,
    embeddingLength: 2560,
    blockCount: 30,
    headCount: 20,
    headCountKv: 5,
    feedForwardLength: 6912,
    contextLength: 4096,
    ropeFreqBase: 500000,
    tokenizer: 'bpe-llama3',
    embeddingType: 'F16',
  },
  '3b': {
    name: '3b',
    description: '1bitLLM/bitnet_b1_58-3B (hidden 3200: rows are not whole 256-blocks, so I2_S only)',
    architecture: 'bitnet',
    vocabSize: 32002,
    embeddingLength: 3200,
    blockCount: 26,
    headCount: 32,
    headCountKv: 32,
    feedForwardLength: 8640,
    contextLength: 2048,
    ropeFreqBase: 10000,
    tokenizer: 'spm',
    embeddingType: 'F16',
  },
};
