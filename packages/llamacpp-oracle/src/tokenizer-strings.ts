import { readFileSync } from 'node:fs';

/** Deterministic PRNG (mulberry32) so the random strings are the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hand-picked cases: unicode scripts, emoji sequences, whitespace runs, digits, code, contractions, special-token texts. */
export const HANDPICKED: readonly string[] = [
  '',
  ' ',
  '  ',
  '\n',
  '\n\n\n',
  ' \n \n',
  '\t\tindented\ttabs',
  'trailing spaces   ',
  '   leading spaces',
  'a  b   c    d',
  'line one\r\nline two\r\n\r\nline four',
  'Once upon a time',
  'Hello world! How are you?',
  "It's John's dog. I'm sure we'll go; they've said they'd come, you're right. IT'S LOUD, WE'LL SEE",
  "'s 't 're 've 'm 'll 'd 'S 'T 'RE 'x",
  'Numbers: 0 7 42 123 1234 12345 1234567 3.14159 1,000,000 -17 +0.5e-10',
  'Phone 555-0199, year 2026, ISBN 978-3-16-148410-0',
  'Arabic-Indic ١٢٣٤٥ and Devanagari ४२ digits, fractions ½ ¾, superscripts x² y³',
  '日本語のテキストです。東京は大きい。',
  '中文测试：你好，世界！',
  '한국어 문장입니다.',
  'Ελληνικά και русский текст, Ünïcödé façade, naïve café, Straße',
  'עברית ועברית',
  'العربية نص قصير',
  'हिन्दी पाठ का उदाहरण',
  'ภาษาไทยไม่มีช่องว่าง',
  'combining: e\u0301 a\u0308 n\u0303 — precomposed: é ä ñ',
  'Emoji: 😀 😃 🎉 🚀 ❤️ 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵 🇺🇸',
  '😀😀😀😀',
  'zero\u200bwidth\u200cjoiner\u200d and BOM \ufeff and NEL \u0085 and nbsp \u00a0 ideographic \u3000 space',
  'line\u2028separator\u2029paragraph',
  'control \u0001\u0002\u0007\u001b[0m chars',
  'math ∀x∈ℝ: x²≥0, ∑ᵢ aᵢ ≤ ∞, √2 ≈ 1.414',
  'quotes “double” ‘single’ «guillemets» „low“',
  'symbols @#$%^&*()_+-=[]{}|;:\'",.<>/?`~',
  '...!!!???,,,;;;',
  'function add(a, b) {\n  return a + b; // sum\n}\n',
  'def f(x):\n    if x > 0:\n        return x ** 2\n    return -x\n',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }',
  '<div class="x">Hello&nbsp;<b>world</b></div>',
  '{"key": [1, 2.5, true, null], "nested": {"a": "b"}}',
  "SELECT * FROM users WHERE id = 42 AND name LIKE '%bob%';",
  'https://example.com/path?query=1&x=y#frag',
  'CamelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case',
  '<s>',
  '</s>',
  '<unk>',
  '<s>Once upon a time</s>',
  'before <s> middle </s> after',
  '<s><s></s></s>',
  '<|begin_of_text|>Hello<|eot_id|>',
  '<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  '<|reserved_special_token_5|> x <|end_of_text|>',
  '<0x41> <0x0A> literal byte-token texts',
  '▁ literal lower one eighth block ▁▁',
  'lone surrogates \ud800 and \udfff and reversed \udc00\ud800',
  '\ud83d',
  'x'.repeat(300),
  'ab'.repeat(150),
  `${' '.repeat(40)}spaces`,
  `${'\n'.repeat(10)}newlines`,
  'mixed 1a2b3c 10px 3rd 4th 2nd 1st',
  "Don't stop-believing... it's 5 o'clock!",
  "spaced punctuation : Hello , world . Really ? Yes ! It 's we 're they 've I 'm ' quoted ' done",
];

/** Paragraphs of the TinyStories validation text, evenly spaced, plus a few multi-paragraph chunks. */
export function corpusStrings(path: string, count: number): string[] {
  const paragraphs = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0);
  const out: string[] = [];
  const step = Math.max(1, Math.floor(paragraphs.length / count));
  for (let i = 0; i < paragraphs.length && out.length < count; i += step) out.push(paragraphs[i] as string);
  for (let i = 0; i < 10; i++) out.push(paragraphs.slice(i * 37, i * 37 + 4).join('\n\n\n'));
  return out;
}

const POOLS: readonly string[] = Object.freeze([
  'abcdefghijklmnopqrstuvwxyz',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  '0123456789',
  '     \n\t\r',
  '.,;:!?\'"-()[]{}<>/@#$%&*+=_|\\~`^',
  'éèêëàâäôöûüçñßøåæœ',
  'αβγδεζηθικλμνξοπρστυφχψω',
  'абвгдежзийклмнопрстуфхцчшщыэюя',
  '日本語中文字漢字東京',
  'ひらがなカタカナ',
  '😀🎉🚀👍🏽❤️🇯🇵👨‍👩‍👧',
  '\u00a0\u3000\u0085\ufeff\u200b\u2028',
  '١٢٣٤٥٦٧٨٩',
  '▁',
]);

/** Special-token texts of both vocabularies, mixed in whole so that parseSpecial splits them out. */
const SPECIALS: readonly string[] = [
  '<s>',
  '</s>',
  '<unk>',
  '<|begin_of_text|>',
  '<|eot_id|>',
  '<|start_header_id|>',
  '<|end_of_text|>',
];

/** Random strings mixing the pools above, in runs, to hit pre-tokenizer boundaries. Seeded. */
export function randomStrings(count: number, seed: number): string[] {
  const random = mulberry32(seed);
  const out: string[] = [];
  for (let s = 0; s < count; s++) {
    let text = '';
    const runs = 1 + Math.floor(random() * 12);
    for (let r = 0; r < runs; r++) {
      if (random() < 0.1) {
        text += SPECIALS[Math.floor(random() * SPECIALS.length)];
        continue;
      }
      const pool = Array.from(POOLS[Math.floor(random() * POOLS.length)] as string);
      const length = 1 + Math.floor(random() * 8);
      for (let i = 0; i < length; i++) text += pool[Math.floor(random() * pool.length)];
    }
    out.push(text);
  }
  return out;
}
