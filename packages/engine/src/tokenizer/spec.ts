import { TernionError } from '@ternion/contracts';

/** Tokenizer families we implement, named as GGUF's `tokenizer.ggml.model` names them. */
export type TokenizerModel = 'llama' | 'gpt2';

/**
 * GGUF token types (`tokenizer.ggml.token_type`), numbered as llama.cpp's `llama_token_type`.
 * A token without a type is `Normal`.
 */
export const TokenType = {
  Undefined: 0,
  Normal: 1,
  Unknown: 2,
  Control: 3,
  UserDefined: 4,
  Unused: 5,
  Byte: 6,
} as const;
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

/**
 * Everything needed to build a {@link Tokenizer}, independent of where it came from (a GGUF file, a test).
 * Field meanings follow the GGUF `tokenizer.*` keys.
 */
export interface TokenizerSpec {
  /** `llama` = SentencePiece-style (llama.cpp SPM); `gpt2` = byte-level BPE. */
  model: TokenizerModel;
  /** `tokenizer.ggml.pre`, the BPE pre-tokenizer name, e.g. `llama-bpe`. Ignored for `llama`. */
  pre?: string;
  /** Token texts by id. */
  tokens: string[];
  /** SPM merge scores by id (higher merges first). */
  scores?: Float32Array | number[];
  /** {@link TokenType} by id. */
  tokenTypes?: Int32Array | number[];
  /** BPE merges, `"left right"`, in rank order. */
  merges?: string[];
  bosId?: number;
  eosId?: number;
  unkId?: number;
  padId?: number;
  eotId?: number;
  eomId?: number;
  /** Prepend BOS when encoding (unless the caller says otherwise). */
  addBos: boolean;
  /** Append EOS when encoding (unless the caller says otherwise). */
  addEos: boolean;
  /** SPM: prefix raw text with a space (→ `▁`) at the start and after every special token. */
  addSpacePrefix: boolean;
  /** `tokenizer.chat_template`, a Jinja template. */
  chatTemplate?: string;
}

function invalid(key: string, expected: string, value: unknown): TernionError {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
  return new TernionError('TOKENIZER_INVALID', `GGUF key ${key} must be ${expected}, got ${shown}`, {
    hint: 'The model file has a broken or unsupported tokenizer; re-convert it with a current llama.cpp.',
  });
}

function optionalId(get: (key: string) => unknown, key: string, nTokens: number): number | undefined {
  const value = get(key);
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    throw invalid(key, 'a token id (unsigned integer)', value);
  // llama.cpp ignores an out-of-range special id (keeps its default); we drop it the same way.
  return n < nTokens ? n : undefined;
}

function optionalBool(get: (key: string) => unknown, key: string): boolean | undefined {
  const value = get(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(key, 'a boolean', value);
  return value;
}

function numberArray(value: unknown, key: string): number[] | Float32Array | Int32Array {
  if (value instanceof Float32Array || value instanceof Int32Array) return value;
  if (
    ArrayBuffer.isView(value) &&
    !(value instanceof DataView) &&
    !(value instanceof BigInt64Array) &&
    !(value instanceof BigUint64Array)
  ) {
    return Array.from(value as unknown as ArrayLike<number>);
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value as number[];
  throw invalid(key, 'an array of numbers', value);
}

function floatArray(value: unknown, key: string): number[] | Float32Array {
  const array = numberArray(value, key);
  // llama.cpp also accepts int32 scores.
  return array instanceof Int32Array ? Float32Array.from(array) : array;
}

function intArray(value: unknown, key: string): number[] | Int32Array {
  const array = numberArray(value, key);
  if (array instanceof Float32Array || !array.every((v) => Number.isInteger(v)))
    throw invalid(key, 'an array of integers', value);
  return array;
}

function stringArray(value: unknown, key: string): string[] {
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw invalid(key, 'an array of strings', value);
}

/** The llama.cpp pre-tokenizer names that select the llama-3 regex (`LLAMA_VOCAB_PRE_TYPE_LLAMA3`). */
export const LLAMA3_PRE_NAMES: readonly string[] = [
  'llama3',
  'llama-v3',
  'llama-bpe',
  'falcon3',
  'falcon-h1',
  'pixtral',
  'midm-2.0',
  'lfm2',
  'jina-v5-nano',
];

/**
 * Builds a {@link TokenizerSpec} from GGUF metadata. `get(key)` returns the metadata value or undefined.
 * Defaults for missing flags follow llama.cpp's `llama_vocab::impl::load`: SPM adds BOS and a space prefix;
 * BPE adds BOS only with a llama-3 pre-tokenizer. `get` may return plain values or the gguf reader's
 * `{ type, value }` records, e.g. `tokenizerSpecFromMetadata((key) => file.get(key))`.
 */
export function tokenizerSpecFromMetadata(getValue: (key: string) => unknown): TokenizerSpec {
  if (typeof getValue !== 'function') throw new TypeError('get must be a function (key: string) => unknown');
  // Accept plain values and the gguf reader's tagged `{ type, value }` records alike.
  const get = (key: string): unknown => {
    const v = getValue(key);
    return typeof v === 'object' && v !== null && 'type' in v && 'value' in v
      ? (v as { value: unknown }).value
      : v;
  };
  const model = get('tokenizer.ggml.model');
  if (model !== 'llama' && model !== 'gpt2') {
    throw new TernionError('UNSUPPORTED', `tokenizer.ggml.model ${JSON.stringify(model)} is not supported`, {
      hint: "Ternion reads 'llama' (SentencePiece) and 'gpt2' (byte-level BPE) tokenizers.",
    });
  }
  const tokens = stringArray(get('tokenizer.ggml.tokens'), 'tokenizer.ggml.tokens');
  const n = tokens.length;
  const preValue = get('tokenizer.ggml.pre');
  if (preValue !== undefined && typeof preValue !== 'string')
    throw invalid('tokenizer.ggml.pre', 'a string', preValue);
  const pre = preValue as string | undefined;

  const spec: TokenizerSpec = {
    model,
    tokens,
    addBos: model === 'llama' || (pre !== undefined && LLAMA3_PRE_NAMES.includes(pre)),
    addEos: false,
    addSpacePrefix: model === 'llama',
  };
  if (pre !== undefined) spec.pre = pre;

  const scores = get('tokenizer.ggml.scores');
  if (scores !== undefined) {
    const array = floatArray(scores, 'tokenizer.ggml.scores');
    spec.scores = array;
    if (array.length < n) throw invalid('tokenizer.ggml.scores', `at least ${n} entries`, scores);
  }
  const types = get('tokenizer.ggml.token_type');
  if (types !== undefined) {
    const array = intArray(types, 'tokenizer.ggml.token_type');
    spec.tokenTypes = array;
    if (array.length < n) throw invalid('tokenizer.ggml.token_type', `at least ${n} entries`, types);
  }
  const merges = get('tokenizer.ggml.merges');
  if (merges !== undefined) spec.merges = stringArray(merges, 'tokenizer.ggml.merges');
  if (model === 'gpt2' && spec.merges === undefined)
    throw invalid('tokenizer.ggml.merges', 'present for a gpt2 tokenizer', merges);

  // llama.cpp's defaults for the SPM family; BPE has no usable defaults (its 11 is a GPT-2 leftover).
  const defaults = model === 'llama' ? { bos: 1, eos: 2, unk: 0 } : {};
  const ids: [keyof TokenizerSpec, string, number | undefined][] = [
    ['bosId', 'tokenizer.ggml.bos_token_id', defaults.bos],
    ['eosId', 'tokenizer.ggml.eos_token_id', defaults.eos],
    ['unkId', 'tokenizer.ggml.unknown_token_id', defaults.unk],
    ['padId', 'tokenizer.ggml.padding_token_id', undefined],
    ['eotId', 'tokenizer.ggml.eot_token_id', undefined],
    ['eomId', 'tokenizer.ggml.eom_token_id', undefined],
  ];
  for (const [field, key, fallback] of ids) {
    const id = optionalId(get, key, n) ?? (fallback !== undefined && fallback < n ? fallback : undefined);
    if (id !== undefined) (spec as unknown as Record<string, number>)[field] = id;
  }

  spec.addBos = optionalBool(get, 'tokenizer.ggml.add_bos_token') ?? spec.addBos;
  spec.addEos = optionalBool(get, 'tokenizer.ggml.add_eos_token') ?? spec.addEos;
  spec.addSpacePrefix = optionalBool(get, 'tokenizer.ggml.add_space_prefix') ?? spec.addSpacePrefix;

  const template = get('tokenizer.chat_template');
  if (template !== undefined) {
    if (typeof template !== 'string') throw invalid('tokenizer.chat_template', 'a string', template);
    spec.chatTemplate = template;
  }
  return spec;
}
