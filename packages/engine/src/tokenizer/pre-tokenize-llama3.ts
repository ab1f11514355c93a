/**
 * The llama-3 pre-tokenizer: splits text into the words that byte-level BPE then merges inside. The
 * tokenizer.json regex is
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * llama.cpp (`LLAMA_VOCAB_PRE_TYPE_LLAMA3`) runs it as a hand-written scanner,
 * `unicode_regex_split_custom_llama3` in src/unicode.cpp, with its own whitespace table. We follow that
 * scanner rule by rule so the split is the same as llama.cpp's, using JS `\p{L}`/`\p{N}` for the letter and
 * number classes. A plain JS regex would differ on U+0085 (whitespace for llama.cpp, not for JS `\s`) and
 * U+FEFF (the reverse).
 */

const LETTER = /\p{L}/u;
const NUMBER = /\p{N}/u;

const FLAG_LETTER = 1;
const FLAG_NUMBER = 2;
const FLAG_SPACE = 4;
const FLAG_KNOWN = 8;

/** Per-code-point flags, computed on first use. (0x110000) */
let flagCache: Uint8Array | undefined;

/** llama.cpp's `unicode_ranges_whitespace`. */
function isWhitespace(cp: number): boolean {
  return (
    (cp >= 0x09 && cp <= 0x0d) ||
    cp === 0x20 ||
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

function flagsOf(cp: number): number {
  flagCache ??= new Uint8Array(0x110000);
  let f = flagCache[cp] as number;
  if (f === 0) {
    const ch = String.fromCodePoint(cp);
    f =
      FLAG_KNOWN |
      (LETTER.test(ch) ? FLAG_LETTER : 0) |
      (NUMBER.test(ch) ? FLAG_NUMBER : 0) |
      (isWhitespace(cp) ? FLAG_SPACE : 0);
    flagCache[cp] = f;
  }
  return f;
}

const lower = (cp: number) => (cp >= 0x41 && cp <= 0x5a ? cp + 32 : cp);
const CR = 0x0d;
const LF = 0x0a;

/** Splits well-formed `text` into llama-3 pre-tokenizer words (as JS strings). */
export function preTokenizeLlama3(text: string): string[] {
  const cps: number[] = []; // (n_code_points)
  const unitOffset: number[] = []; // (n_code_points + 1) UTF-16 offset of each code point in text
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) as number;
    cps.push(cp);
    unitOffset.push(i);
    i += cp > 0xffff ? 2 : 1;
  }
  unitOffset.push(text.length);
  const end = cps.length;
  // Out of range reads as "no flags" and "no code point", like llama.cpp's OUT_OF_RANGE.
  const cpAt = (i: number) => (i < end ? (cps[i] as number) : -1);
  const flagsAt = (i: number) => (i < end ? flagsOf(cps[i] as number) : 0);

  const words: string[] = [];
  let prevEnd = 0;
  const cut = (to: number) => {
    if (to > prevEnd) words.push(text.slice(unitOffset[prevEnd], unitOffset[to]));
    const n = to - prevEnd;
    prevEnd = to;
    return n;
  };

  for (let pos = 0; pos < end; ) {
    const cp = cpAt(pos);
    const flags = flagsAt(pos);

    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (cp === 0x27 && pos + 1 < end) {
      const c1 = lower(cpAt(pos + 1));
      if (c1 === 0x73 || c1 === 0x74 || c1 === 0x6d || c1 === 0x64) {
        pos += cut(pos + 2);
        continue;
      }
      if (pos + 2 < end) {
        const c2 = lower(cpAt(pos + 2));
        if ((c1 === 0x72 && c2 === 0x65) || (c1 === 0x76 && c2 === 0x65) || (c1 === 0x6c && c2 === 0x6c)) {
          pos += cut(pos + 3);
          continue;
        }
      }
    }

    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!(cp === CR || cp === LF || flags & FLAG_NUMBER)) {
      if (flags & FLAG_LETTER || flagsAt(pos + 1) & FLAG_LETTER) {
        pos++;
        while (flagsAt(pos) & FLAG_LETTER) pos++;
        cut(pos);
        continue;
      }
    }

    // \p{N}{1,3}
    if (flags & FLAG_NUMBER) {
      let first = pos;
      while (flagsAt(pos) & FLAG_NUMBER) {
        if (++pos - first >= 3) {
          cut(pos);
          first = pos;
        }
      }
      cut(pos);
      continue;
    }

    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    const other = (f: number) => f !== 0 && (f & (FLAG_SPACE | FLAG_LETTER | FLAG_NUMBER)) === 0;
    let flags2 = cp === 0x20 ? flagsAt(pos + 1) : flags;
    if (other(flags2) && flags !== 0) {
      if (cp === 0x20) pos++;
      while (other(flags2)) flags2 = flagsAt(++pos);
      while (cpAt(pos) === CR || cpAt(pos) === LF) pos++;
      cut(pos);
      continue;
    }

    let numSpaces = 0;
    let lastNewlineEnd = 0;
    while (flagsAt(pos + numSpaces) & FLAG_SPACE) {
      const c = cpAt(pos + numSpaces);
      if (c === CR || c === LF) lastNewlineEnd = pos + numSpaces + 1;
      numSpaces++;
    }
    // \s*[\r\n]+
    if (lastNewlineEnd > 0) {
      pos = lastNewlineEnd;
      cut(pos);
      continue;
    }
    // \s+(?!\S): leave the last space to prefix the next word
    if (numSpaces > 1 && pos + numSpaces < end) {
      pos += numSpaces - 1;
      cut(pos);
      continue;
    }
    // \s+
    if (numSpaces > 0) {
      pos += numSpaces;
      cut(pos);
      continue;
    }
    cut(++pos);
  }
  return words;
}
