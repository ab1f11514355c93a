import type { Model } from '@ternion/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  loadTestModel,
  postJson,
  startTestServer,
  type TestServer,
  wrapGenerate,
} from './test-support.fixture.js';

let model: Model;
let t: TestServer;

beforeAll(async () => {
  model = await loadTestModel();
  t = await startTestServer(model, { parallel: 2, contextSize: 64, limits: { maxBodyBytes: 64 * 1024 } });
});

afterAll(async () => {
  await t?.close();
  model?.dispose();
});

const chat = (body: unknown, init?: Parameters<typeof postJson>[2]) =>
  postJson(`${t.url}/v1/chat/completions`, body, init);
const completion = (body: unknown) => postJson(`${t.url}/v1/completions`, body);

function expectOpenAiError(body: unknown, param: string | null, code?: string) {
  const e = (body as { error: Record<string, unknown> }).error;
  expect(typeof e.message).toBe('string');
  expect(typeof e.type).toBe('string');
  expect(e.param).toBe(param);
  if (code !== undefined) expect(e.code).toBe(code);
}

describe('malformed requests get OpenAI-shaped 4xx errors', () => {
  it('malformed JSON → 400 invalid_json', async () => {
    const r = await chat(undefined, { raw: '{"messages": [' });
    expect(r.status).toBe(400);
    expectOpenAiError(r.body, null, 'invalid_json');
  });

  it('wrong content type → 415', async () => {
    const r = await chat(undefined, { raw: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(415);
    expectOpenAiError(r.body, null, 'unsupported_media_type');
  });

  it('body over the limit → 413 naming the limit and the received size', async () => {
    const huge = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] });
    const r = await chat(undefined, { raw: huge });
    expect(r.status).toBe(413);
    expectOpenAiError(r.body, null, 'request_too_large');
    expect(r.body.error.message).toBe(
      `Request body is too large: ${huge.length} bytes; this server accepts at most ${64 * 1024} bytes.`,
    );
  });

  it('invalid UTF-8 → 400 invalid_utf8, the code hardening uses (not a silently changed prompt)', async () => {
    const prefix = new TextEncoder().encode('{"messages":[{"role":"user","content":"a');
    const suffix = new TextEncoder().encode('"}]}');
    const raw = new Uint8Array([...prefix, 0xc3, 0x28, ...suffix]);
    const r = await chat(undefined, { raw });
    expect(r.status).toBe(400);
    expectOpenAiError(r.body, null, 'invalid_utf8');
  });

  it('a __proto__ key → 400', async () => {
    const r = await chat(undefined, {
      raw: '{"messages":[{"role":"user","content":"a"}],"__proto__":{"x":1}}',
    });
    expect(r.status).toBe(400);
  });

  it('a body that is not an object → 400', async () => {
    expect((await chat([1, 2])).status).toBe(400);
  });

  it.each([
    [{ messages: [{ role: 'user', content: 'a' }], temperature: 'hot' }, 'temperature'],
    [{ messages: [{ role: 'user', content: 'a' }], max_tokens: '5' }, 'max_tokens'],
    [{ messages: [{ role: 'user', content: 'a' }], max_tokens: 0 }, 'max_tokens'],
    [{ messages: [{ role: 'user', content: 'a' }], top_p: 1.5 }, 'top_p'],
    [{ messages: [{ role: 'user', content: 'a' }], stop: 7 }, 'stop'],
    [{ messages: [{ role: 'user', content: 'a' }], n: 1.5 }, 'n'],
    [{ messages: [{ role: 'user', content: 'a' }], logit_bias: { abc: 1 } }, 'logit_bias'],
    [{ messages: [{ role: 'robot', content: 'a' }] }, 'messages[0].role'],
    [{ messages: [{ content: 'a' }] }, 'messages[0].role'],
    [{ messages: [] }, 'messages'],
    [{ model: 'tiny' }, 'messages'],
  ])('schema: %j → 400 naming %s', async (body, param) => {
    const r = await chat(body);
    expect(r.status).toBe(400);
    expectOpenAiError(r.body, param);
  });

  it.each([
    [{ prompt: [1, 'a'] }, 'prompt'],
    [{ prompt: [] }, 'prompt'],
    [{ prompt: [99999] }, 'prompt'],
    [{ prompt: 'x', logprobs: true }, 'logprobs'],
    [{ prompt: 'x', echo: true }, 'echo'],
    [{ prompt: 'x', suffix: 'end' }, 'suffix'],
  ])('completions: %j → 400 naming %s', async (body, param) => {
    const r = await completion(body);
    expect(r.status).toBe(400);
    expectOpenAiError(r.body, param);
  });

  it('rejects what the server cannot honour, naming the field', async () => {
    const msgs = [{ role: 'user', content: 'a' }];
    for (const [body, param] of [
      [{ messages: msgs, tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools'],
      [{ messages: msgs, response_format: { type: 'json_object' } }, 'response_format'],
      [{ messages: msgs, top_logprobs: 2 }, 'top_logprobs'],
      [{ messages: msgs, n: 3 }, 'n'],
      [{ messages: msgs, max_tokens: 65 }, 'max_tokens'],
      [{ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, 'messages[0].content[0]'],
      [{ messages: [{ role: 'user', content: 'word '.repeat(80) }] }, 'messages'],
    ] as const) {
      const r = await chat(body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expectOpenAiError(r.body, param);
    }
  });

  it('ignores unknown fields (forward compatibility) and accepts content parts', async () => {
    const r = await chat({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      max_tokens: 1,
      user: 'u1',
      store: false,
      some_future_field: { a: 1 },
    });
    expect(r.status).toBe(200);
    expect(r.body.choices).toHaveLength(1);
  });

  it('unknown route → 404 in OpenAI shape', async () => {
    const r = await fetch(`${t.url}/v1/nope`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/nope/);
    expect((await fetch(`${t.url}/v1/models/other`)).status).toBe(404);
  });
});

describe('auth, rate limits, admission and the engine breaker', () => {
  it('401 without or with a wrong API key; only /health is public by default', async () => {
    const s = await startTestServer(model, { parallel: 1, apiKeys: ['sk-test-1'] });
    try {
      const missing = await postJson(`${s.url}/v1/completions`, { prompt: 'a', max_tokens: 1 });
      expect(missing.status).toBe(401);
      expectOpenAiError(missing.body, null, 'invalid_api_key');
      const wrong = await postJson(
        `${s.url}/v1/completions`,
        { prompt: 'a', max_tokens: 1 },
        { headers: { authorization: 'Bearer sk-nope' } },
      );
      expect(wrong.status).toBe(401);
      expect((await fetch(`${s.url}/v1/models`)).status).toBe(401);
      const ok = await s.client.completions.create({ model: 'tiny', prompt: 'a', max_tokens: 1 });
      expect(ok.choices).toHaveLength(1);
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      const key = { headers: { authorization: 'Bearer sk-test-1' } };
      for (const route of ['/ready', '/metrics']) {
        const anonymous = await fetch(`${s.url}${route}`);
        expect(anonymous.status, route).toBe(401);
        expectOpenAiError(await anonymous.json(), null, 'invalid_api_key');
        expect((await fetch(`${s.url}${route}`, key)).status, route).toBe(200);
      }
    } finally {
      await s.close();
    }
  });

  it('publicReady / publicMetrics open those routes to callers without a key, nothing else', async () => {
    const s = await startTestServer(model, {
      parallel: 1,
      apiKeys: ['sk-test-1'],
      publicReady: true,
      publicMetrics: true,
    });
    try {
      expect((await fetch(`${s.url}/ready`)).status).toBe(200);
      const metrics = await fetch(`${s.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('ternion_requests_total');
      expect((await fetch(`${s.url}/v1/models`)).status).toBe(401);
    } finally {
      await s.close();
    }
  });

  it('429 with Retry-After once a key exceeds its request rate', async () => {
    const s = await startTestServer(model, { parallel: 1, rateLimit: { requestsPerMinute: 2 } });
    try {
      expect((await fetch(`${s.url}/v1/models`)).status).toBe(200);
      expect((await fetch(`${s.url}/v1/models`)).status).toBe(200);
      const limited = await fetch(`${s.url}/v1/models`);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expectOpenAiError(await limited.json(), null, 'rate_limit_exceeded');
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('503 with Retry-After when the queue is full; queued work still completes', async () => {
    const s = await startTestServer(model, { parallel: 1, maxQueue: 1 });
    try {
      const running = new AbortController();
      const first = await fetch(`${s.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 200, temperature: 0, stream: true }),
        signal: running.signal,
      });
      expect(first.status).toBe(200);
      const reader = first.body!.getReader();
      await reader.read(); // generating now: the only sequence is taken
      const queued = postJson(`${s.url}/v1/completions`, { prompt: 'The dog', max_tokens: 2 });
      expect(await eventually(() => s.server.state.admission.queued === 1)).toBe(true);
      const refused = await postJson(`${s.url}/v1/completions`, { prompt: 'The cat', max_tokens: 2 });
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expectOpenAiError(refused.body, null, 'overloaded');
      running.abort();
      await reader.cancel().catch(() => {});
      const q = await queued;
      expect(q.status).toBe(200);
      expect(q.body.usage.completion_tokens).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('an engine failing repeatedly opens the breaker (503, not ready), and it recovers', async () => {
    let failing = true;
    const s = await startTestServer(
      model,
      { parallel: 2, breaker: { failureThreshold: 2, halfOpenAfterMs: 300 } },
      (engine) =>
        wrapGenerate(engine, (real, input, options) => {
          if (!failing) return real(input, options);
          // Fails on the first next(), like a native fault in the first forward pass.
          return (async function* () {
            yield* [];
            throw new Error('injected engine fault');
          })();
        }),
    );
    try {
      const body = { prompt: 'Once', max_tokens: 2 };
      for (let i = 0; i < 2; i++) {
        const r = await postJson(`${s.url}/v1/completions`, body);
        expect(r.status).toBe(500);
        expectOpenAiError(r.body, null);
        expect(JSON.stringify(r.body)).not.toContain('injected'); // internals stay in the logs
      }
      const open = await postJson(`${s.url}/v1/completions`, body);
      expect(open.status).toBe(503);
      expect(open.headers.get('retry-after')).not.toBeNull();
      expectOpenAiError(open.body, null, 'engine_unavailable');
      expect((await fetch(`${s.url}/ready`)).status).toBe(503);
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      // A failing stream reports the error in-band and still frees its sequence.
      failing = true;
      await new Promise((r) => setTimeout(r, 350));
      const streamFail = await fetch(`${s.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, stream: true }),
      });
      const text = await streamFail.text();
      expect(text).toContain('"error"');
      expect(s.server.state.activeSequences).toBe(0);
      failing = false;
      await new Promise((r) => setTimeout(r, 350));
      const healed = await postJson(`${s.url}/v1/completions`, body);
      expect(healed.status).toBe(200);
      expect((await fetch(`${s.url}/ready`)).status).toBe(200);
      expect(s.engine.kvStats().usedBlocks).toBe(0);
    } finally {
      await s.close();
    }
  });
});
