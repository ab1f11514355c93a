import { TokenType } from '../tokenizer/spec.js';

/** A tokenizer vocabulary for a synthetic model: deterministic, reachable pieces first, then fillers. */
export interface SyntheticVocab {
  model: 'llama' | 'gpt2';
  pre?: string;
  tokens: string[];
  scores?: Float32Array;
  types: Int32Array;
  merges?: string[];
  bosId: number;
  eosId: number;
  unkId?: number;
  eotId?: number;
  chatTemplate?: string;
}

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter((c) => c !== ' ');
const LOWER = 'abcdefghijklmnopqrstuvwxyz';

/**
 * SentencePiece-style (`llama`): <unk>, <s>, </s>, 256 byte tokens, single characters and `▁`-words of one
 * and two letters, scored so shorter pieces merge first; padded with unreachable fillers to `vocabSize`.
 */
export function spmVocab(vocabSize: number): SyntheticVocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.Unknown, TokenType.Control, TokenType.Control];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.Byte);
  }
  const pieces = ['▁', ...PRINTABLE, ...PRINTABLE.map((c) => `▁${c}`)];
  for (const a of LOWER) for (const b of LOWER) pieces.push(`${a}${b}`, `▁${a}${b}`);
  for (const p of pieces) {
    if (tokens.length >= vocabSize) break;
    tokens.push(p);
    types.push(TokenType.Normal);
  }
  for (let i = 0; tokens.length < vocabSize; i++) {
    tokens.push(`<filler_${i}>`);
    types.push(TokenType.Unused);
  }
  const scores = new Float32Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) scores[i] = types[i] === TokenType.Normal ? -i : 0;
  return { model: 'llama', tokens, scores, types: Int32Array.from(types), bosId: 1, eosId: 2, unkId: 0 };
}

/** GPT-2's reversible byte → printable-character map. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out: string[] = new Array(256);
  bs.forEach((b, i) => {
    out[b] = String.fromCodePoint(cs[i]!);
  });
  return out;
}

/**
 * Byte-level BPE (`gpt2`, llama-3 pre-tokenizer, 128256 tokens like bitnet-b1.58-2B-4T): 256 byte tokens in
 * GPT-2 order, merges of lower-case letter pairs and of `Ġ` + letter(s), fillers, then llama-3's 256 special
 * tokens at 128000.. (`<|begin_of_text|>` = 128000, `<|end_of_text|>` = 128001, `<|eot_id|>` = 128009).
 */
export function llama3LikeVocab(vocabSize: number): SyntheticVocab {
  const specials = 256;
  const byteChars = bytesToUnicode();
  const order: number[] = [];
  for (let b = 33; b <= 126; b++) order.push(b);
  for (let b = 161; b <= 172; b++) order.push(b);
  for (let b = 174; b <= 255; b++) order.push(b);
  for (let b = 0; b < 256; b++) if (!order.includes(b)) order.push(b);
  const tokens = order.map((b) => byteChars[b]!);
  const types: number[] = tokens.map(() => TokenType.Normal);
  const merges: string[] = [];
  const have = new Set(tokens);
  const addMerge = (a: string, b: string): void => {
    const t = a + b;
    if (have.has(t) || tokens.length >= vocabSize - specials) return;
    merges.push(`${a} ${b}`);
    tokens.push(t);
    types.push(TokenType.Normal);
    have.add(t);
  };
  const space = byteChars[32]!;
  for (const a of LOWER) addMerge(space, a);
  for (const a of LOWER) for (const b of LOWER) addMerge(a, b);
  for (const a of LOWER) for (const b of LOWER) addMerge(space + a, b);
  for (let i = 0; tokens.length < vocabSize - specials; i++) {
    tokens.push(`<|filler_${i}|>`);
    types.push(TokenType.Unused);
  }
  const base = tokens.length;
  const named: Record<number, string> = {
    0: '<|begin_of_text|>',
    1: '<|end_of_text|>',
    6: '<|start_header_id|>',
    7: '<|end_header_id|>',
    9: '<|eot_id|>',
  };
  let reserved = 0;
  for (let i = 0; i < specials; i++) {
    tokens.push(named[i] ?? `<|reserved_special_token_${reserved++}|>`);
    types.push(TokenType.Control);
  }
  const chatTemplate =
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
  return {
    model: 'gpt2',
    pre: 'llama-bpe',
    tokens,
    types: Int32Array.from(types),
    merges,
    bosId: base,
    eosId: base + 1,
    eotId: base + 9,
    chatTemplate,
  };
}
