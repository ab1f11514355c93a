import { TernionError } from '@ternion/contracts';
import { bpeTokenize, buildMergeRanks } from './bpe.js';
import { charToByte } from './byte-unicode.js';
import { cleanSpaces } from './clean-spaces.js';
import { preTokenizeLlama3 } from './pre-tokenize-llama3.js';
import { LLAMA3_PRE_NAMES, type TokenizerModel, type TokenizerSpec } from './spec.js';
import { partitionSpecial } from './special-partition.js';
import { SPM_SPACE, spmTokenize } from './spm.js';
import { toWellFormed, utf8Encode } from './utf8.js';
import { TokenAttr, Vocab } from './vocab.js';

export interface EncodeOptions {
  /** Prepend BOS. Default: the model's `add_bos_token`. */
  addBos?: boolean;
  /** Append EOS. Default: the model's `add_eos_token`. */
  addEos?: boolean;
  /** Turn control-token texts in `text` (e.g. `<|eot_id|>`) into their ids. Default false: they are plain text. */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Render control/unknown tokens as their text (e.g. `<s>`). Default false: they render as nothing. */
  special?: boolean;
  /** Drop a leading BOS and (when the model appends EOS) a trailing EOS first. Default false. */
  removeSpecial?: boolean;
}

export interface PieceOptions {
  /** Render control/unknown tokens as their text. Default false. */
  special?: boolean;
}

const EMPTY = new Uint8Array(0);
// ignoreBOM keeps a leading U+FEFF: it is text the model produced, not a byte-order mark to strip.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function checkBool(value: unknown, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean')
    throw new TypeError(`${name} must be a boolean, got ${typeof value}`);
  return value;
}

function checkSpec(spec: TokenizerSpec): void {
  if (typeof spec !== 'object' || spec === null) throw new TypeError('spec must be a TokenizerSpec object');
  if (spec.model !== 'llama' && spec.model !== 'gpt2') {
    throw new TernionError('UNSUPPORTED', `tokenizer model ${JSON.stringify(spec.model)} is not supported`, {
      hint: "Use 'llama' (SentencePiece) or 'gpt2' (byte-level BPE).",
    });
  }
  if (!Array.isArray(spec.tokens) || !spec.tokens.every((t) => typeof t === 'string')) {
    throw new TypeError('spec.tokens must be an array of strings');
  }
  const n = spec.tokens.length;
  for (const key of ['bosId', 'eosId', 'unkId', 'padId', 'eotId', 'eomId'] as const) {
    const id = spec[key];
    if (id !== undefined && !(Number.isInteger(id) && id >= 0 && id < n)) {
      throw new RangeError(`spec.${key} must be a token id in [0, ${n}), got ${id}`);
    }
  }
  if (spec.addBos && spec.bosId === undefined)
    throw new TypeError('spec.addBos is true but spec.bosId is not set');
  if (spec.addEos && spec.eosId === undefined)
    throw new TypeError('spec.addEos is true but spec.eosId is not set');
  if (spec.model === 'gpt2') {
    if (!Array.isArray(spec.merges))
      throw new TypeError("spec.merges must be an array of strings for model 'gpt2'");
    if (spec.pre === undefined || !LLAMA3_PRE_NAMES.includes(spec.pre)) {
      throw new TernionError(
        'UNSUPPORTED',
        `BPE pre-tokenizer ${JSON.stringify(spec.pre)} is not supported`,
        {
          hint: `Supported: ${LLAMA3_PRE_NAMES.join(', ')} (the llama-3 pre-tokenizer).`,
        },
      );
    }
  }
}

/**
 * Text ↔ token ids for a model's vocabulary, matching llama.cpp (`llama_tokenize` / `llama_detokenize` /
 * `llama_token_to_piece` in src/llama-vocab.cpp) token for token. Two families:
 * - `llama`: SentencePiece-style score-driven merging with byte fallback (see spm.ts);
 * - `gpt2`: byte-level BPE with the llama-3 pre-tokenizer (see bpe.ts, pre-tokenize-llama3.ts).
 */
export class Tokenizer {
  readonly model: TokenizerModel;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly eotId: number | undefined;
  readonly eomId: number | undefined;
  readonly unkId: number | undefined;
  readonly padId: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  readonly chatTemplate: string | undefined;

  private readonly vocab: Vocab;
  private readonly mergeRanks: ReadonlyMap<string, number> | undefined;
  /** llama.cpp's `clean_spaces`: on for BPE vocabularies with the llama-3 pre-tokenizer, off for SPM. */
  private readonly cleanSpaces: boolean;
  /** Pieces with special tokens rendered, filled on first use (llama.cpp `cache_token_to_piece`). */
  private readonly pieceCache: (Uint8Array | undefined)[];

  constructor(spec: TokenizerSpec) {
    checkSpec(spec);
    this.model = spec.model;
    this.vocab = new Vocab(spec);
    this.bosId = spec.bosId;
    this.eosId = spec.eosId;
    this.eotId = this.vocab.eotId;
    this.eomId = this.vocab.eomId;
    this.unkId = spec.unkId;
    this.padId = spec.padId;
    this.addBos = spec.addBos;
    this.addEos = spec.addEos;
    this.addSpacePrefix = spec.addSpacePrefix;
    this.chatTemplate = spec.chatTemplate;
    this.mergeRanks = spec.model === 'gpt2' ? buildMergeRanks(spec.merges ?? []) : undefined;
    this.cleanSpaces = spec.model === 'gpt2';
    this.pieceCache = new Array<Uint8Array | undefined>(this.vocab.size);
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  /** Ids that end generation: EOS, EOT, EOM and the end-of-turn texts llama.cpp recognises. */
  get eogIds(): readonly number[] {
    return [...this.vocab.eogIds].sort((a, b) => a - b);
  }

  isEog(id: number): boolean {
    return this.vocab.eogIds.has(id);
  }

  /** True for control and unknown tokens (the ones `decode` hides unless `special`). */
  isSpecial(id: number): boolean {
    this.checkId(id, 'id');
    return (this.vocab.attr(id) & (TokenAttr.Control | TokenAttr.Unknown)) !== 0;
  }

  /** The vocabulary entry of `id` as stored in the model (e.g. `▁Once`, `Ġthe`, `<0x0A>`). */
  tokenText(id: number): string {
    this.checkId(id, 'id');
    return this.vocab.texts[id] as string;
  }

  /** Token id of an exact vocabulary entry, or undefined. */
  tokenId(text: string): number | undefined {
    if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
    return this.vocab.idOf.get(text);
  }

  encode(text: string, options: EncodeOptions = {}): Int32Array {
    if (typeof text !== 'string') throw new TypeError(`text must be a string, got ${typeof text}`);
    const addBos = checkBool(options.addBos, 'options.addBos') ?? this.addBos;
    const addEos = checkBool(options.addEos, 'options.addEos') ?? this.addEos;
    const parseSpecial = checkBool(options.parseSpecial, 'options.parseSpecial') ?? false;
    if (addBos && this.bosId === undefined)
      throw new TernionError('UNSUPPORTED', 'this vocabulary has no BOS token');
    if (addEos && this.eosId === undefined)
      throw new TernionError('UNSUPPORTED', 'this vocabulary has no EOS token');

    const fragments = partitionSpecial(this.vocab, toWellFormed(text), parseSpecial);
    const out: number[] = [];
    if (addBos) out.push(this.bosId as number);
    if (this.model === 'llama') {
      const byteToken = (b: number) => this.byteToken(b);
      // Raw text at the start and right after a special token gets the space prefix (llama.cpp tokenize).
      let afterSpecial = true;
      for (const fragment of fragments) {
        if ('token' in fragment) {
          out.push(fragment.token);
          afterSpecial = true;
          continue;
        }
        const raw = this.addSpacePrefix && afterSpecial ? ` ${fragment.text}` : fragment.text;
        spmTokenize(this.vocab, raw.replaceAll(' ', SPM_SPACE), byteToken, out);
        afterSpecial = false;
      }
    } else {
      for (const fragment of fragments) {
        if ('token' in fragment) out.push(fragment.token);
        else
          bpeTokenize(
            this.vocab,
            this.mergeRanks as ReadonlyMap<string, number>,
            true,
            preTokenizeLlama3(fragment.text),
            out,
          );
      }
    }
    if (addEos) out.push(this.eosId as number);
    return Int32Array.from(out);
  }

  /**
   * The bytes `id` stands for (llama.cpp `llama_token_to_piece` with lstrip 0): SPM `▁` becomes a space,
   * byte tokens become their byte, BPE pieces are mapped back from GPT-2's byte alphabet. A piece can be
   * part of a UTF-8 character; join pieces before decoding, or use {@link StreamingDetokenizer}.
   * The returned array is shared: do not modify it.
   */
  tokenToPiece(id: number, options: PieceOptions = {}): Uint8Array {
    this.checkId(id, 'id');
    const special = checkBool(options.special, 'options.special') ?? false;
    return this.piece(id, special);
  }

  /** Ids → text, as llama.cpp's `llama_detokenize(remove_special, unparse_special = special)`. */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const bytes = this.decodeBytes(ids, options);
    return decoder.decode(bytes);
  }

  /** Like {@link decode} but returns the UTF-8 bytes (possibly ending inside a character). */
  decodeBytes(ids: ArrayLike<number>, options: DecodeOptions = {}): Uint8Array {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') {
      throw new TypeError('ids must be an array or typed array of token ids');
    }
    for (let i = 0; i < ids.length; i++) this.checkId(ids[i], `ids[${i}]`);
    const special = checkBool(options.special, 'options.special') ?? false;
    const removeSpecial = checkBool(options.removeSpecial, 'options.removeSpecial') ?? false;

    let first = 0;
    let end = ids.length;
    // With add_space_prefix the first piece's leading space is the one encode added, so it is dropped
    // unless a BOS comes first (llama.cpp keeps the space after BOS, even when removing the BOS).
    let removeSpace = this.addSpacePrefix;
    if (removeSpecial && this.addBos && end > 0 && ids[0] === this.bosId) {
      removeSpace = false;
      first = 1;
    }
    if (removeSpecial && this.addEos && end > first && ids[end - 1] === this.eosId) end--;

    const pieces: Uint8Array[] = [];
    let length = 0;
    for (let i = first; i < end; i++) {
      let piece = this.piece(ids[i] as number, special);
      if (removeSpace && piece.length > 0 && piece[0] === 0x20) piece = piece.subarray(1);
      removeSpace = false;
      pieces.push(piece);
      length += piece.length;
    }
    const out = new Uint8Array(length); // (n_bytes)
    let at = 0;
    for (const piece of pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    return this.cleanSpaces ? out.subarray(0, cleanSpaces(out, length)) : out;
  }

  private checkId(id: unknown, name: string): void {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= this.vocab.size) {
      throw new RangeError(`${name} must be a token id in [0, ${this.vocab.size}), got ${String(id)}`);
    }
  }

  private piece(id: number, special: boolean): Uint8Array {
    const attr = this.vocab.attr(id);
    if (!special && attr & (TokenAttr.Control | TokenAttr.Unknown)) return EMPTY;
    let piece = this.pieceCache[id];
    if (piece === undefined) {
      piece = this.renderPiece(id, attr);
      this.pieceCache[id] = piece;
    }
    return piece;
  }

  private renderPiece(id: number, attr: number): Uint8Array {
    const text = this.vocab.texts[id] as string;
    if (attr & (TokenAttr.Control | TokenAttr.Unknown | TokenAttr.UserDefined)) return utf8Encode(text);
    if (attr & TokenAttr.Normal) {
      return this.model === 'llama' ? utf8Encode(text.replaceAll(SPM_SPACE, ' ')) : byteLevelToBytes(text);
    }
    if (attr & TokenAttr.Byte) return Uint8Array.of(Number.parseInt(text.substring(3, 5), 16) || 0);
    return EMPTY; // unused and undefined tokens render as nothing, as in llama.cpp
  }

  /** SPM byte fallback: `<0xXX>`, else the byte itself as a token, else unk. */
  private byteToken(byte: number): number {
    const hex = byte.toString(16).toUpperCase().padStart(2, '0');
    const id =
      this.vocab.idOf.get(`<0x${hex}>`) ??
      (byte < 0x80 ? this.vocab.idOf.get(String.fromCharCode(byte)) : undefined);
    if (id !== undefined) return id;
    if (this.unkId !== undefined) return this.unkId;
    throw new TernionError(
      'TOKENIZER_INVALID',
      `vocabulary has no token for byte 0x${hex} and no unknown token`,
    );
  }
}

/** Maps a byte-level BPE token text back to bytes (llama.cpp `llama_decode_text`, including its marker for stray characters). */
function byteLevelToBytes(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) as number;
    const b = charToByte(cp);
    if (b >= 0) {
      bytes.push(b);
      continue;
    }
    const utf8 = utf8Encode(ch);
    const hex = Array.from(utf8, (x) => x.toString(16).padStart(2, '0')).join('');
    bytes.push(...utf8Encode(`[UNK_BYTE_0x${hex}${text}]`));
  }
  return Uint8Array.from(bytes);
}
