import type { GenerationResult, Model, Token } from '@ternion/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTestModel, postJson, startTestServer, type TestServer } from './test-support.fixture.js';

let model: Model;
let t: TestServer;

beforeAll(async () => {
  model = await loadTestModel();
  t = await startTestServer(model, { parallel: 2 });
});

afterAll(async () => {
  await t?.close();
  model?.dispose();
});

/** Greedy on the tiny model, this prompt ends with an end-of-generation token after 32 tokens. */
const EOS_PROMPT = 'Lily and Tom';
const complete = (body: Record<string, unknown>) =>
  postJson(`${t.url}/v1/completions`, { temperature: 0, ...body });

/** The greedy tokens the engine itself generates for `prompt` (the server adds nothing to greedy). */
async function engineTokens(prompt: string, maxTokens: number): Promise<readonly Token[]> {
  const seq = t.engine.getSequence();
  try {
    const it = seq.generate(t.engine.tokenize(prompt, { parseSpecial: false }), {
      maxTokens,
      temperature: 0,
    });
    let r = await it.next();
    while (!r.done) r = await it.next();
    return (r.value as GenerationResult).tokens;
  } finally {
    seq.dispose();
  }
}

describe("vLLM's extra request fields", () => {
  it('ignore_eos generates past the end-of-generation token', async () => {
    const natural = await complete({ prompt: EOS_PROMPT, max_tokens: 60 });
    expect(natural.body.choices[0].finish_reason).toBe('stop');
    expect(natural.body.usage.completion_tokens).toBeLessThan(60);
    const r = await complete({ prompt: EOS_PROMPT, max_tokens: 60, ignore_eos: true });
    expect(r.status).toBe(200);
    expect(r.body.choices[0].finish_reason).toBe('length');
    expect(r.body.usage.completion_tokens).toBe(60);
  });

  it('min_tokens holds the end-of-generation token back until that many tokens are out', async () => {
    const natural = await complete({ prompt: EOS_PROMPT, max_tokens: 60 });
    const k = natural.body.usage.completion_tokens as number;
    const r = await complete({ prompt: EOS_PROMPT, max_tokens: 60, min_tokens: k + 8 });
    expect(r.status).toBe(200);
    expect(r.body.usage.completion_tokens).toBeGreaterThanOrEqual(k + 8);
    const text = r.body.choices[0].text as string;
    expect(text.startsWith(natural.body.choices[0].text)).toBe(true);
    expect(text.length).toBeGreaterThan(natural.body.choices[0].text.length);
  });

  it('stop_token_ids ends the generation at that token (finish_reason stop, its text not returned)', async () => {
    const tokens = await engineTokens(EOS_PROMPT, 10);
    // The first token (after two) not seen before: the generation must stop exactly there.
    const at = tokens.findIndex((tok, i) => i >= 2 && !tokens.slice(0, i).includes(tok));
    expect(at).toBeGreaterThanOrEqual(2);
    const full = await complete({ prompt: EOS_PROMPT, max_tokens: 10 });
    const r = await complete({ prompt: EOS_PROMPT, max_tokens: 10, stop_token_ids: [tokens[at]] });
    expect(r.status).toBe(200);
    expect(r.body.choices[0].finish_reason).toBe('stop');
    expect(r.body.usage.completion_tokens).toBe(at + 1);
    const text = r.body.choices[0].text as string;
    expect(full.body.choices[0].text.startsWith(text)).toBe(true);
    expect(text.length).toBeLessThan(full.body.choices[0].text.length);
  });

  it('repetition_penalty changes a repetitive greedy text; 1 changes nothing', async () => {
    const body = { prompt: 'Once upon a time', max_tokens: 60 };
    const plain = await complete(body);
    expect((await complete({ ...body, repetition_penalty: 1 })).body.choices[0].text).toBe(
      plain.body.choices[0].text,
    );
    const penalised = await complete({ ...body, repetition_penalty: 1.5 });
    expect(penalised.status).toBe(200);
    expect(penalised.body.choices[0].text).not.toBe(plain.body.choices[0].text);
  });

  it('top_k -1 means off, exactly like 0', async () => {
    const body = { prompt: 'Once upon a time', max_tokens: 20, temperature: 0.9, seed: 3 };
    const off = await complete({ ...body, top_k: 0 });
    const vllmOff = await complete({ ...body, top_k: -1 });
    expect(vllmOff.status).toBe(200);
    expect(vllmOff.body.choices[0].text).toBe(off.body.choices[0].text);
  });

  it('presence/frequency penalties count generated tokens only (OpenAI), never the prompt', async () => {
    // The greedy continuation repeats a prompt word; a penalty over the prompt would change it.
    const prompt = 'Lily and Tom are friends. Lily and Tom';
    const plain = await complete({ prompt, max_tokens: 1 });
    const penalised = await complete({ prompt, max_tokens: 1, presence_penalty: 2, frequency_penalty: 2 });
    expect(prompt).toContain(plain.body.choices[0].text.trim());
    expect(penalised.body.choices[0].text).toBe(plain.body.choices[0].text);
  });

  it('the same fields work on chat completions', async () => {
    const r = await postJson(`${t.url}/v1/chat/completions`, {
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 12,
      temperature: 0,
      ignore_eos: true,
      min_tokens: 12,
      top_k: -1,
      repetition_penalty: 1.1,
    });
    expect(r.status).toBe(200);
    expect(r.body.usage.completion_tokens).toBe(12);
  });

  it.each([
    [{ top_k: -2 }, 'top_k'],
    [{ min_tokens: -1 }, 'min_tokens'],
    [{ min_tokens: 1.5 }, 'min_tokens'],
    [{ min_tokens: 11, max_tokens: 10 }, 'min_tokens'],
    [{ stop_token_ids: [5, 99999] }, 'stop_token_ids[1]'],
    [{ stop_token_ids: [-1] }, 'stop_token_ids'],
    [{ stop_token_ids: 'x' }, 'stop_token_ids'],
    [{ repetition_penalty: 0 }, 'repetition_penalty'],
    [{ repetition_penalty: -1 }, 'repetition_penalty'],
    [{ ignore_eos: 'yes' }, 'ignore_eos'],
  ])('%j → 400 naming %s', async (extra, param) => {
    const r = await complete({ prompt: 'x', max_tokens: 10, ...extra });
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe(param);
  });

  it('stop_token_ids longer than limits.maxStopTokenIds (default 256) → 400 naming stop_token_ids', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => i);
    const r = await complete({ prompt: 'x', max_tokens: 2, stop_token_ids: ids(257) });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'invalid_value', param: 'stop_token_ids' });
    expect(r.body.error.message).toContain('at most 256');
    expect((await complete({ prompt: 'x', max_tokens: 2, stop_token_ids: ids(256) })).status).toBe(200);
  });

  it('min_tokens beyond what the context leaves (no max_tokens) → 400 naming min_tokens', async () => {
    const r = await complete({ prompt: 'x', min_tokens: t.engine.contextSize });
    expect(r.status).toBe(400);
    expect(r.body.error.param).toBe('min_tokens');
    expect(r.body.error.message).toMatch(/min_tokens \(256\) must be at most max_tokens/);
  });
});
