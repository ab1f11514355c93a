/**
 * GPT-2's reversible byte ↔ character map (`bytes_to_unicode` in openai/gpt-2 encoder.py): printable bytes
 * map to themselves, the other 68 bytes to U+0100.. in order, so every byte string becomes a string of
 * visible characters with no spaces or control codes. Byte-level BPE vocabularies are written in it.
 */
function buildByteToChar(): string[] {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map: string[] = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) map[b] = String.fromCharCode(printable(b) ? b : next++);
  return map;
}

/** (256) byte → its one-character stand-in. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** Stand-in character code → byte; -1 for characters outside the map. */
const CHAR_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(512).fill(-1); // (512) the stand-ins are all below U+0200
  BYTE_TO_CHAR.forEach((ch, b) => {
    table[ch.charCodeAt(0)] = b;
  });
  return table;
})();

/** Byte for a stand-in code point, or -1 when the code point is not part of the map. */
export function charToByte(codePoint: number): number {
  return codePoint < CHAR_TO_BYTE.length ? (CHAR_TO_BYTE[codePoint] as number) : -1;
}

/** Encodes UTF-8 bytes as a byte-level BPE string. */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_TO_CHAR[b];
  return s;
}
