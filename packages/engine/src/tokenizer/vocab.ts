import { TernionError } from '@ternion/contracts';
import { type TokenizerSpec, TokenType } from './spec.js';
import { utf8Length } from './utf8.js';

/** Token attribute bits, as llama.cpp's `llama_token_attr` (a token can carry several). */
export const TokenAttr = {
  Undefined: 0,
  Unknown: 1 << 0,
  Unused: 1 << 1,
  Normal: 1 << 2,
  Control: 1 << 3,
  UserDefined: 1 << 4,
  Byte: 1 << 5,
} as const;

function attrFromType(type: number): number {
  switch (type) {
    case TokenType.Unknown:
      return TokenAttr.Unknown;
    case TokenType.Unused:
      return TokenAttr.Unused;
    case TokenType.Normal:
      return TokenAttr.Normal;
    case TokenType.Control:
      return TokenAttr.Control;
    case TokenType.UserDefined:
      return TokenAttr.UserDefined;
    case TokenType.Byte:
      return TokenAttr.Byte;
    default:
      return TokenAttr.Undefined;
  }
}

/** Texts that llama.cpp treats as end-of-generation whatever the metadata says (`llama_vocab::impl::load`). */
const EOG_TEXTS: ReadonlySet<string> = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<|return|>',
  '<|call|>',
  '<|flush|>',
  '<|calls|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '</s>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '[EOS]',
  '<|end_of_text|>',
  '<end_of_utterance>',
  '<eos>',
  '<turn|>',
  '<|tool_response>',
  '<｜end▁of▁sentence｜>',
]);

/** Texts llama.cpp recognises as an end-of-turn token when the metadata names none, in preference order. */
const EOT_TEXTS: readonly string[] = [
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|end_of_text|>',
  '<EOT>',
  '_<EOT>',
  '[EOT]',
  '<｜end▁of▁sentence｜>',
  '<end_of_utterance>',
];

/**
 * The vocabulary tables both tokenizer families share: id → text/score/attributes, text → id, the special
 * tokens that are split out of raw text before tokenizing, and the end-of-generation set.
 */
export class Vocab {
  readonly texts: readonly string[];
  readonly scores: Float32Array; // (n_vocab)
  readonly attrs: Uint32Array; // (n_vocab) TokenAttr bits
  readonly idOf: ReadonlyMap<string, number>;
  /** Control, user-defined and unknown tokens, longest text first (llama.cpp `cache_special_tokens`). */
  readonly specialIds: readonly number[];
  readonly eogIds: ReadonlySet<number>;
  readonly eotId: number | undefined;
  readonly eomId: number | undefined;

  constructor(spec: TokenizerSpec) {
    const n = spec.tokens.length;
    if (n === 0) throw new TernionError('TOKENIZER_INVALID', 'tokenizer has no tokens');
    const texts: string[] = new Array<string>(n);
    const idOf = new Map<string, number>();
    this.scores = new Float32Array(n);
    this.attrs = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      // llama.cpp renames empty tokens so that no text maps to two ids.
      const text = spec.tokens[i] === '' ? `[EMPTY_${i}]` : (spec.tokens[i] as string);
      const previous = idOf.get(text);
      if (previous !== undefined) {
        throw new TernionError(
          'TOKENIZER_INVALID',
          `duplicate token ${JSON.stringify(text)} at ids ${previous} and ${i}`,
          {
            hint: 'llama.cpp rejects such vocabularies too; re-convert the model.',
          },
        );
      }
      idOf.set(text, i);
      texts[i] = text;
      this.scores[i] = spec.scores ? (spec.scores[i] ?? 0) : 0;
      this.attrs[i] = spec.tokenTypes
        ? attrFromType(spec.tokenTypes[i] ?? TokenType.Undefined)
        : TokenAttr.Normal;
    }
    this.texts = texts;
    this.idOf = idOf;

    let eotId = spec.eotId;
    if (eotId === undefined) eotId = EOT_TEXTS.map((t) => idOf.get(t)).find((id) => id !== undefined);
    const eomId = spec.eomId ?? idOf.get('<|eom_id|>');
    this.eotId = eotId;
    this.eomId = eomId;

    // llama.cpp marks tokens it recognises by text as control tokens even when the file typed them otherwise.
    const byText = new Set<number>();
    if (spec.eotId === undefined && eotId !== undefined) byText.add(eotId);
    if (spec.eomId === undefined && eomId !== undefined) byText.add(eomId);
    const eog = new Set<number>();
    for (const [text, id] of idOf) {
      if (EOG_TEXTS.has(text)) {
        eog.add(id);
        byText.add(id);
      }
    }
    for (const id of [spec.eosId, eotId, eomId]) if (id !== undefined) eog.add(id);
    for (const id of byText) this.attrs[id] = (this.attrs[id] as number) | TokenAttr.Control;
    this.eogIds = eog;

    const special: number[] = [];
    const specialMask = TokenAttr.Control | TokenAttr.UserDefined | TokenAttr.Unknown;
    for (let i = 0; i < n; i++) if ((this.attrs[i] as number) & specialMask) special.push(i);
    const byteLength = (id: number) => utf8Length(texts[id] as string);
    special.sort((a, b) => byteLength(b) - byteLength(a) || a - b);
    this.specialIds = special;
  }

  get size(): number {
    return this.texts.length;
  }

  attr(id: number): number {
    return this.attrs[id] as number;
  }
}
