const SPACE = 0x20;
const QUOTE = 0x27;
const ch = (c: string) => c.charCodeAt(0);

/**
 * llama.cpp's `clean_spaces` detokenizer pass (on for most BPE vocabularies, including llama-3), ported
 * byte for byte from `llama_vocab::impl::detokenize` in src/llama-vocab.cpp. It removes the space before
 * `? ! . ,`, around a lone `'`, and before `'s 'm 're 've`. Each pass compacts the buffer in place and
 * reads the already-compacted prefix, exactly like the C++ (so its edge cases match too).
 * Returns the new length; `text` is modified.
 */
export function cleanSpaces(text: Uint8Array, length: number): number {
  // Pass 1: " ?", " !", " .", " ,"
  const total1 = length;
  let total = total1 ? 1 : 0;
  for (let i = 1; i < total1; i++) {
    const x = text[i] as number;
    if (text[i - 1] === SPACE && (x === ch('?') || x === ch('!') || x === ch('.') || x === ch(','))) total--;
    text[total++] = x;
  }

  // Pass 2: " ' " → "'"
  const total2 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total2; i++) {
    const x = text[i] as number;
    if (x === QUOTE && i + 1 < total2 && text[i - 1] === SPACE && text[i + 1] === SPACE) {
      total--;
      text[++i] = 0;
    }
    text[total++] = x;
  }

  // Pass 3: " 's", " 'm", " 're", " 've"
  const total3 = total;
  total = total ? 1 : 0;
  for (let i = 1; i < total3; i++) {
    const x = text[i] as number;
    if (text[i - 1] === SPACE && x === QUOTE && i + 1 < total3) {
      const x1 = text[i + 1] as number;
      if (x1 === ch('s') || x1 === ch('m')) total--;
      else if (i + 2 < total3) {
        const x2 = text[i + 2] as number;
        if ((x1 === ch('r') && x2 === ch('e')) || (x1 === ch('v') && x2 === ch('e'))) total--;
      }
    }
    text[total++] = x;
  }
  return total;
}
