import { Writable } from 'node:stream';
import type { Model } from '@ternion/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadTestModel,
  postJson,
  readSse,
  startTestServer,
  type TestServer,
} from './test-support.fixture.js';

let model: Model;
let t: TestServer;

beforeAll(async () => {
  model = await loadTestModel();
  t = await startTestServer(model, { parallel: 4 });
});

afterAll(async () => {
  await t?.close();
  model?.dispose();
});

const messages = [{ role: 'user' as const, content: 'Tell me a story about a cat.' }];

describe('OpenAI wire format through the official client', () => {
  it('lists the loaded model', async () => {
    const list = await t.client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['tiny']);
    expect(list.data[0]!.object).toBe('model');
    expect((await t.client.models.retrieve('tiny')).id).toBe('tiny');
  });

  it('answers a chat completion with id, fingerprint, usage and finish_reason', async () => {
    const r = await t.client.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 6,
      temperature: 0,
    });
    expect(r.object).toBe('chat.completion');
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.system_fingerprint).toMatch(/^fp_[0-9a-f]{10}$/);
    expect(r.model).toBe('tiny');
    expect(Math.abs(r.created - Date.now() / 1000)).toBeLessThan(60);
    expect(r.choices).toHaveLength(1);
    const c = r.choices[0]!;
    expect(c.message.role).toBe('assistant');
    expect(typeof c.message.content).toBe('string');
    expect(c.logprobs).toBeNull();
    expect(['stop', 'length']).toContain(c.finish_reason);
    expect(r.usage!.prompt_tokens).toBeGreaterThan(5);
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(6);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
    if (c.finish_reason === 'length') expect(r.usage!.completion_tokens).toBe(6);
  });

  it('streams the same greedy chat text as the non-streaming call, with include_usage', async () => {
    const whole = await t.client.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 12,
      temperature: 0,
    });
    const stream = await t.client.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      for (const c of chunk.choices) {
        text += c.delta.content ?? '';
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    expect(chunks[0]!.object).toBe('chat.completion.chunk');
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(finish).toBe(whole.choices[0]!.finish_reason);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(whole.usage);
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
  });

  it('answers completions, streaming and not, with the same greedy text', async () => {
    const whole = await t.client.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 12,
      temperature: 0,
    });
    expect(whole.object).toBe('text_completion');
    expect(whole.id).toMatch(/^cmpl-/);
    expect(whole.choices[0]!.text.length).toBeGreaterThan(0);
    expect(whole.usage!.completion_tokens).toBe(12);
    expect(whole.choices[0]!.finish_reason).toBe('length');
    const stream = await t.client.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 12,
      temperature: 0,
      stream: true,
    });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('text_completion');
      text += chunk.choices[0]!.text;
      finish = chunk.choices[0]!.finish_reason ?? finish;
    }
    expect(text).toBe(whole.choices[0]!.text);
    expect(finish).toBe('length');
  });

  it('accepts token-id prompts and several prompts at once', async () => {
    const ids = model.tokenize('Once upon a time');
    const byIds = await t.client.completions.create({
      model: 'tiny',
      prompt: ids,
      max_tokens: 5,
      temperature: 0,
    });
    const byText = await t.client.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 5,
      temperature: 0,
    });
    expect(byIds.choices[0]!.text).toBe(byText.choices[0]!.text);
    const two = await t.client.completions.create({
      model: 'tiny',
      prompt: ['Once upon a time', 'The dog'],
      max_tokens: 4,
      temperature: 0,
    });
    expect(two.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(two.choices[0]!.text).toBe(byText.choices[0]!.text.slice(0, two.choices[0]!.text.length));
    expect(two.usage!.prompt_tokens).toBe(ids.length + model.tokenize('The dog').length);
  });

  it('runs n choices concurrently, each reproducible from the seed', async () => {
    const ask = () =>
      t.client.chat.completions.create({
        model: 'tiny',
        messages,
        max_tokens: 10,
        temperature: 1,
        seed: 42,
        n: 2,
      });
    const a = await ask();
    const b = await ask();
    expect(a.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(b.choices.map((c) => c.message.content)).toEqual(a.choices.map((c) => c.message.content));
    expect(a.usage!.completion_tokens).toBeGreaterThan(10);
    const streamed = await t.client.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 10,
      temperature: 1,
      seed: 42,
      n: 2,
      stream: true,
    });
    const texts = ['', ''];
    for await (const chunk of streamed)
      for (const c of chunk.choices) texts[c.index] += c.delta.content ?? '';
    expect(texts).toEqual(a.choices.map((c) => c.message.content));
  });

  it('cuts the text before a stop string and reports finish_reason stop', async () => {
    const free = await t.client.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 24,
      temperature: 0,
    });
    const text = free.choices[0]!.text;
    const stop = text.slice(8, 11);
    const cut = text.indexOf(stop);
    const stopped = await t.client.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 24,
      temperature: 0,
      stop: [stop, 'never-appears'],
    });
    expect(stopped.choices[0]!.text).toBe(text.slice(0, cut));
    expect(stopped.choices[0]!.finish_reason).toBe('stop');
    const streamed = await t.client.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 24,
      temperature: 0,
      stop,
      stream: true,
    });
    let s = '';
    let finish: string | null = null;
    for await (const chunk of streamed) {
      s += chunk.choices[0]!.text;
      finish = chunk.choices[0]!.finish_reason ?? finish;
    }
    expect(s).toBe(text.slice(0, cut));
    expect(finish).toBe('stop');
  });

  it('returns chat logprobs: token, logprob, bytes and top_logprobs (greedy picks the top one)', async () => {
    const r = await t.client.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 8,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
    });
    const content = r.choices[0]!.logprobs!.content!;
    expect(content.length).toBe(r.usage!.completion_tokens);
    const bytes: number[] = [];
    for (const e of content) {
      expect(e.logprob).toBeLessThanOrEqual(0);
      expect(e.top_logprobs).toHaveLength(3);
      expect(e.top_logprobs[0]!.logprob).toBeCloseTo(e.logprob, 5);
      expect(e.top_logprobs[0]!.token).toBe(e.token);
      for (let i = 1; i < 3; i++)
        expect(e.top_logprobs[i]!.logprob).toBeLessThanOrEqual(e.top_logprobs[i - 1]!.logprob);
      bytes.push(...e.bytes!);
    }
    // The pieces' bytes spell the text (the first piece's leading space is SPM's word marker).
    expect(new TextDecoder().decode(new Uint8Array(bytes)).trimStart()).toBe(
      r.choices[0]!.message.content!.trimStart(),
    );
    const streamed = await t.client.chat.completions.create({
      model: 'tiny',
      messages,
      max_tokens: 8,
      temperature: 0,
      logprobs: true,
      top_logprobs: 3,
      stream: true,
    });
    const streamedTokens: string[] = [];
    for await (const chunk of streamed) {
      for (const c of chunk.choices) {
        // With logprobs every token gets its own chunk, as OpenAI streams them.
        if (c.logprobs) expect(c.logprobs.content).toHaveLength(1);
        for (const e of c.logprobs?.content ?? []) streamedTokens.push(e.token);
      }
    }
    expect(streamedTokens).toEqual(content.map((e) => e.token));
  });

  it('returns legacy completion logprobs with text offsets', async () => {
    const prompt = 'Once upon a time';
    const r = await t.client.completions.create({
      model: 'tiny',
      prompt,
      max_tokens: 6,
      temperature: 0,
      logprobs: 2,
    });
    const lp = r.choices[0]!.logprobs!;
    expect(lp.tokens).toHaveLength(r.usage!.completion_tokens);
    expect(lp.token_logprobs).toHaveLength(lp.tokens!.length);
    expect(lp.text_offset![0]).toBe(prompt.length);
    for (let i = 1; i < lp.tokens!.length; i++) {
      expect(lp.text_offset![i]).toBe(lp.text_offset![i - 1]! + lp.tokens![i - 1]!.length);
    }
    for (const [i, top] of lp.top_logprobs!.entries()) {
      expect(Object.keys(top).length).toBeGreaterThanOrEqual(1);
      expect(Object.keys(top).length).toBeLessThanOrEqual(2);
      expect(Math.max(...Object.values(top))).toBeCloseTo(lp.token_logprobs![i]!, 5);
    }
  });

  it('honours logit_bias (a banned token never appears) and penalties are accepted', async () => {
    const greedy = await t.client.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 4,
      temperature: 0,
      logprobs: 0,
    });
    const firstText = greedy.choices[0]!.logprobs!.tokens![0]!;
    const decoder = new TextDecoder();
    // Every id that renders as that text (a byte token and a piece can both be ',').
    const ids = Array.from({ length: model.config.vocabSize }, (_, id) => id).filter(
      (id) => decoder.decode(model.tokenizer.tokenToPiece(id)) === firstText,
    );
    expect(ids.length).toBeGreaterThan(0);
    const banned = await t.client.completions.create({
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 4,
      temperature: 0,
      logprobs: 0,
      logit_bias: Object.fromEntries(ids.map((id) => [String(id), -100])),
      presence_penalty: 0.5,
      frequency_penalty: 0.5,
    });
    expect(banned.choices[0]!.logprobs!.tokens![0]).not.toBe(firstText);
  });

  it('serves /health, /ready and Prometheus /metrics', async () => {
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    const ready = await fetch(`${t.url}/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe('ready');
    const metrics = await fetch(`${t.url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/ternion_generated_tokens_total \d+/);
    expect(text).toMatch(/ternion_time_to_first_token_seconds_count \d+/);
    expect(text).toContain('ternion_requests_total{');
  });

  it('clamps max_tokens that does not fit the context and says so in a header', async () => {
    const small = await startTestServer(model, { parallel: 1, contextSize: 24 });
    try {
      const r = await postJson(`${small.url}/v1/completions`, {
        prompt: 'Once upon a time',
        max_tokens: 23,
        temperature: 0,
      });
      expect(r.status).toBe(200);
      const promptTokens = r.body.usage.prompt_tokens;
      expect(r.headers.get('x-ternion-max-tokens-clamped')).toBe(`23->${24 - promptTokens}`);
      expect(r.body.usage.completion_tokens).toBeLessThanOrEqual(24 - promptTokens);
      const sse = await fetch(`${small.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 2, stream: true }),
      });
      expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const events = await readSse(sse);
      expect(events.at(-1)).toBe('[DONE]');
    } finally {
      await small.close();
    }
  });

  it('logs structured JSON without prompts or completions unless logPrompts is on', async () => {
    const run = async (logPrompts: boolean) => {
      const lines: string[] = [];
      const logStream = new Writable({
        write(chunk, _enc, done) {
          lines.push(
            ...String(chunk)
              .split('\n')
              .filter((l) => l.length > 0),
          );
          done();
        },
      });
      const s = await startTestServer(model, {
        parallel: 1,
        logLevel: 'info',
        logStream,
        logPrompts,
        apiKeys: ['sk-secret-key'],
      });
      try {
        await s.client.completions.create({
          model: 'tiny',
          prompt: 'A secret prompt about zebras',
          max_tokens: 2,
        });
      } finally {
        await s.close();
      }
      for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
      const all = lines.join('\n');
      expect(all).not.toContain('sk-secret-key');
      expect(all).toContain('"reqId"');
      return all;
    };
    expect(await run(false)).not.toContain('zebras');
    expect(await run(true)).toContain('zebras');
  });
});

describe('kvCacheTokens: a KV cache smaller than parallel × context', () => {
  it('serves parallel requests to completion through preemption, with the texts of unhurried runs', async () => {
    // 4 sequences of ~45 tokens need ~180 KV slots; the cache has 64 (4 blocks of 16): the scheduler must
    // preempt (free the youngest sequence's blocks, recompute it later) for all four to finish.
    const s = await startTestServer(model, { parallel: 4, contextSize: 64, kvCacheTokens: 64 });
    try {
      const prompts = ['Once upon a time', 'The dog', 'Lily saw a', 'One day, Tom'];
      const body = (prompt: string) => ({ prompt, max_tokens: 40, temperature: 0 });
      const url = `${s.url}/v1/completions`;
      const parallel = await Promise.all(prompts.map((p) => postJson(url, body(p))));
      const preempted = s.engine.context.stats.preemptions;
      expect(preempted).toBeGreaterThan(0);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toContain(`ternion_preemptions_total ${preempted}`);
      // One at a time, a sequence always fits: the reference texts.
      for (const [i, p] of prompts.entries()) {
        const alone = await postJson(url, body(p));
        expect(parallel[i]!.status).toBe(200);
        expect(parallel[i]!.body.choices[0].text).toBe(alone.body.choices[0].text);
        expect(parallel[i]!.body.usage).toEqual(alone.body.usage);
      }
      expect(s.engine.context.stats.preemptions).toBe(preempted);
      expect(s.engine.kvStats().usedBlocks).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('refuses a cache smaller than one context', async () => {
    await expect(startTestServer(model, { parallel: 2, contextSize: 64, kvCacheTokens: 32 })).rejects.toThrow(
      /kvCacheTokens must be at least the context size 64/,
    );
  });
});
