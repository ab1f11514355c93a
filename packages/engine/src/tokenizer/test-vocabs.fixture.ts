import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BYTE_TO_CHAR } from './byte-unicode.js';
import { type TokenizerSpec, TokenType } from './spec.js';

/** The shared TinyStories model (SentencePiece tokenizer), in ../shared/models beside the repository. */
export const SHARED_SPM_MODEL = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../../shared/models/tinystories-bitnet-b158-target-5m-tq2_0.gguf',
);

/**
 * A hand-built SentencePiece vocabulary: <unk>, <s>, </s>, 256 byte tokens, a user-defined `<tool>` and
 * a few scored pieces. Scores decide the merge order: `ab` (-1) before `bc` (-2) before `▁ab` (-3).
 */
export function smallSpmSpec(overrides: Partial<TokenizerSpec> = {}): TokenizerSpec {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.Unknown, TokenType.Control, TokenType.Control];
  const scores: number[] = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.Byte);
    scores.push(0);
  }
  const pieces: [string, number][] = [
    ['▁', -10],
    ['a', -20],
    ['b', -20],
    ['c', -20],
    ['h', -20],
    ['e', -20],
    ['l', -20],
    ['o', -20],
    ['x', -20],
    ['ab', -1],
    ['bc', -2],
    ['▁ab', -3],
    ['abc', -4],
    ['▁a', -5],
    ['he', -6],
    ['ll', -6],
    ['hell', -7],
    ['hello', -8],
    ['▁hello', -9],
  ];
  for (const [text, score] of pieces) {
    tokens.push(text);
    types.push(TokenType.Normal);
    scores.push(score);
  }
  tokens.push('<tool>');
  types.push(TokenType.UserDefined);
  scores.push(0);
  return {
    model: 'llama',
    tokens,
    scores,
    tokenTypes: types,
    bosId: 1,
    eosId: 2,
    unkId: 0,
    addBos: true,
    addEos: false,
    addSpacePrefix: true,
    ...overrides,
  };
}

/** Id of `text` in a spec's token list (throws when absent, to keep tests honest). */
export function idOf(spec: TokenizerSpec, text: string): number {
  const id = spec.tokens.indexOf(text);
  if (id < 0) throw new Error(`no token ${text}`);
  return id;
}

/**
 * A hand-built byte-level BPE vocabulary (llama-3 pre-tokenizer): the 256 byte characters, merged tokens,
 * and control tokens `<|begin_of_text|>` (BOS), `<|end_of_text|>` (EOS) and `<|eot_id|>`.
 */
export function smallBpeSpec(
  merges: string[] = defaultMerges,
  overrides: Partial<TokenizerSpec> = {},
): TokenizerSpec {
  const tokens = [...BYTE_TO_CHAR];
  const types = tokens.map(() => TokenType.Normal as number);
  for (const merge of merges) {
    const merged = merge.replace(' ', '');
    if (!tokens.includes(merged)) {
      tokens.push(merged);
      types.push(TokenType.Normal);
    }
  }
  for (const special of ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>']) {
    tokens.push(special);
    types.push(TokenType.Control);
  }
  return {
    model: 'gpt2',
    pre: 'llama-bpe',
    tokens,
    tokenTypes: types,
    merges,
    bosId: tokens.indexOf('<|begin_of_text|>'),
    eosId: tokens.indexOf('<|end_of_text|>'),
    addBos: true,
    addEos: false,
    addSpacePrefix: false,
    ...overrides,
  };
}

const defaultMerges = ['l l', 'h e', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or', 'Ġwor l', 'Ġworl d'];
