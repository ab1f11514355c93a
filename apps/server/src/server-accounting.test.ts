import type { Model } from '@ternion/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  loadTestModel,
  metricValue,
  postJson,
  readSse,
  slowGenerate,
  startTestServer,
  type TestServer,
  wrapGenerate,
} from './test-support.fixture.js';

let model: Model;

beforeAll(async () => {
  model = await loadTestModel();
});

afterAll(() => {
  model?.dispose();
});

const PROMPT = 'Once upon a time';
const DEADLINE_MS = 300;

async function scrape(t: TestServer): Promise<string> {
  const res = await fetch(`${t.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

function postStream(t: TestServer, body: Record<string, unknown>, signal?: AbortSignal) {
  return fetch(`${t.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
    ...(signal ? { signal } : {}),
  });
}

/** Everything a request held is back: no KV block, no running sequence, no admission slot. */
async function expectAllFreed(t: TestServer) {
  expect(
    await eventually(
      () =>
        t.engine.kvStats().usedBlocks === 0 &&
        t.server.state.activeSequences === 0 &&
        t.server.state.admission.running === 0,
    ),
  ).toBe(true);
}

describe('deadlines (requestTimeoutMs) are explicit, never a truncated success', () => {
  let t: TestServer;
  beforeAll(async () => {
    // 10 ms per token: 200 tokens take ~2 s, far past the deadline.
    t = await startTestServer(model, { parallel: 2, requestTimeoutMs: DEADLINE_MS }, (engine) =>
      wrapGenerate(engine, slowGenerate(10)),
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it('non-streaming: 504 deadline_exceeded naming the deadline; KV freed; counted', async () => {
    const before = await scrape(t);
    const t0 = performance.now();
    const r = await postJson(`${t.url}/v1/completions`, { prompt: PROMPT, max_tokens: 200, temperature: 0 });
    expect(r.status).toBe(504);
    expect(r.body.error).toMatchObject({ type: 'server_error', code: 'deadline_exceeded', param: null });
    expect(r.body.error.message).toContain(`${DEADLINE_MS} ms`);
    expect(performance.now() - t0).toBeLessThan(DEADLINE_MS + 1500);
    await expectAllFreed(t);
    const after = await scrape(t);
    const delta = (series: string) => metricValue(after, series) - metricValue(before, series);
    expect(delta('ternion_errors_total{code="deadline_exceeded"}')).toBe(1);
    expect(delta('ternion_requests_total{route="/v1/completions",status="504"}')).toBe(1);
    // The tokens it generated before the deadline cost the engine work: they are counted.
    expect(delta('ternion_generated_tokens_total')).toBeGreaterThan(0);
    expect(delta('ternion_prompt_tokens_total')).toBeGreaterThan(0);
  });

  it('streaming: the started stream ends with an OpenAI-shaped error event and no [DONE]; KV freed; counted', async () => {
    const before = await scrape(t);
    const res = await postStream(t, { prompt: PROMPT, max_tokens: 200, temperature: 0 });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    expect(events.length).toBeGreaterThan(1); // tokens streamed before the deadline
    expect(events).not.toContain('[DONE]');
    const last = JSON.parse(events.at(-1)!) as { error: Record<string, unknown> };
    expect(last.error).toMatchObject({ type: 'server_error', code: 'deadline_exceeded', param: null });
    expect(last.error.message).toContain(`${DEADLINE_MS} ms`);
    // No choice pretends to have ended normally.
    expect(events.some((e) => e.includes('"finish_reason":"length"'))).toBe(false);
    await expectAllFreed(t);
    const after = await scrape(t);
    const delta = (series: string) => metricValue(after, series) - metricValue(before, series);
    expect(delta('ternion_errors_total{code="deadline_exceeded"}')).toBe(1);
    expect(delta('ternion_requests_total{route="/v1/completions",status="504"}')).toBe(1);
    expect(delta('ternion_requests_total{route="/v1/completions",status="200"}')).toBe(0);
    expect(delta('ternion_generated_tokens_total')).toBeGreaterThan(0);
  });

  it('a request that finishes within the deadline is untouched', async () => {
    const r = await postJson(`${t.url}/v1/completions`, { prompt: PROMPT, max_tokens: 3, temperature: 0 });
    expect(r.status).toBe(200);
    expect(r.body.usage.completion_tokens).toBe(3);
  });
});

describe('a deadline that fires after every choice has finished changes nothing', () => {
  const LATE_DEADLINE_MS = 150;
  let t: TestServer;
  beforeAll(async () => {
    // The real generation runs to its end; only then, before handing back the result, wait for the deadline
    // to fire: the request's signal is aborted by DEADLINE_EXCEEDED although no choice was cut.
    t = await startTestServer(model, { parallel: 2, requestTimeoutMs: LATE_DEADLINE_MS }, (engine) =>
      wrapGenerate(engine, async function* (real, input, options) {
        const result = yield* real(input, options);
        const signal = options.signal!;
        await new Promise<void>((resolve, reject) => {
          if (signal.aborted) return resolve();
          const guard = setTimeout(() => reject(new Error('the deadline never fired')), 5000);
          signal.addEventListener(
            'abort',
            () => {
              clearTimeout(guard);
              resolve();
            },
            { once: true },
          );
        });
        return result;
      }),
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  it('non-streaming: 200 with the complete result, not a 504', async () => {
    const before = await scrape(t);
    const r = await postJson(`${t.url}/v1/completions`, {
      prompt: PROMPT,
      max_tokens: 3,
      n: 2,
      temperature: 0,
    });
    expect(r.status).toBe(200);
    expect(r.body.choices).toHaveLength(2);
    for (const c of r.body.choices) expect(c.finish_reason).toBe('length');
    expect(r.body.usage.completion_tokens).toBe(6);
    await expectAllFreed(t);
    const after = await scrape(t);
    const delta = (series: string) => metricValue(after, series) - metricValue(before, series);
    expect(delta('ternion_errors_total{code="deadline_exceeded"}')).toBe(0);
    expect(delta('ternion_requests_total{route="/v1/completions",status="200"}')).toBe(1);
  });

  it('streaming: every finish chunk, then usage and [DONE], no error event', async () => {
    const before = await scrape(t);
    const res = await postStream(t, {
      prompt: PROMPT,
      max_tokens: 3,
      temperature: 0,
      stream_options: { include_usage: true },
    });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.some((e) => e.includes('"error"'))).toBe(false);
    expect(events.some((e) => e.includes('"finish_reason":"length"'))).toBe(true);
    const usage = JSON.parse(events.at(-2)!) as { usage: { completion_tokens: number } };
    expect(usage.usage.completion_tokens).toBe(3);
    await expectAllFreed(t);
    const after = await scrape(t);
    const delta = (series: string) => metricValue(after, series) - metricValue(before, series);
    expect(delta('ternion_errors_total{code="deadline_exceeded"}')).toBe(0);
    expect(delta('ternion_requests_total{route="/v1/completions",status="504"}')).toBe(0);
  });
});

describe('errors during a stream and token accounting', () => {
  it('an engine failing mid-stream: error event, ternion_errors_total{code}, status 500 recorded, tokens counted', async () => {
    const TOKENS_BEFORE_FAULT = 3;
    const t = await startTestServer(model, { parallel: 2 }, (engine) =>
      wrapGenerate(engine, async function* (real, input, options) {
        const it = real(input, options);
        try {
          for (let i = 0; i < TOKENS_BEFORE_FAULT; i++) {
            const r = await it.next();
            if (r.done) throw new Error('the test needs more tokens');
            yield r.value;
          }
          throw new Error('injected engine fault at token 4');
        } finally {
          await it.return(undefined as never);
        }
      }),
    );
    try {
      const promptTokens = t.engine.tokenize(PROMPT, { parseSpecial: false }).length;
      const res = await postStream(t, { prompt: PROMPT, max_tokens: 50, temperature: 0 });
      expect(res.status).toBe(200);
      const events = await readSse(res);
      expect(events).not.toContain('[DONE]');
      const last = JSON.parse(events.at(-1)!) as { error: Record<string, unknown> };
      expect(last.error).toMatchObject({ type: 'server_error', code: 'internal_error' });
      expect(JSON.stringify(last)).not.toContain('injected'); // internals stay in the logs
      await expectAllFreed(t);
      const text = await scrape(t);
      expect(metricValue(text, 'ternion_errors_total{code="internal_error"}')).toBe(1);
      expect(metricValue(text, 'ternion_requests_total{route="/v1/completions",status="500"}')).toBe(1);
      expect(metricValue(text, 'ternion_requests_total{route="/v1/completions",status="200"}')).toBe(0);
      expect(metricValue(text, 'ternion_generated_tokens_total')).toBe(TOKENS_BEFORE_FAULT);
      expect(metricValue(text, 'ternion_prompt_tokens_total')).toBe(promptTokens);
    } finally {
      await t.close();
    }
  });

  it('a client that disconnects mid-stream is charged the tokens it was sent (token rate limit)', async () => {
    const TOKENS_PER_MINUTE = 40;
    const t = await startTestServer(
      model,
      { parallel: 1, rateLimit: { tokensPerMinute: TOKENS_PER_MINUTE } },
      (engine) => wrapGenerate(engine, slowGenerate(2)),
    );
    try {
      const abort = new AbortController();
      // logprobs: one chunk per token, so chunks read = tokens generated.
      const res = await postStream(
        t,
        { prompt: PROMPT, max_tokens: 200, temperature: 0, logprobs: 0 },
        abort.signal,
      );
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let chunks = 0;
      while (chunks < TOKENS_PER_MINUTE) {
        const r = await reader.read();
        if (r.done) throw new Error('the stream ended before the client left');
        chunks += decoder
          .decode(r.value, { stream: true })
          .split('\n\n')
          .filter((e) => e.startsWith('data: ')).length;
      }
      abort.abort();
      await reader.cancel().catch(() => {});
      await expectAllFreed(t);
      const generated = metricValue(await scrape(t), 'ternion_generated_tokens_total');
      expect(generated).toBeGreaterThanOrEqual(TOKENS_PER_MINUTE);
      // Prompt + ≥ 40 generated tokens against a 40 tokens/min budget: the key is in debt, so its next
      // request is refused until the debt is paid back. Uncharged, it would still have the prompt's change.
      const next = await postJson(`${t.url}/v1/completions`, { prompt: 'The dog', max_tokens: 1 });
      expect(next.status).toBe(429);
      expect(next.body.error.code).toBe('rate_limit_exceeded');
      expect(Number(next.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      await t.close();
    }
  });

  it('a successful request is charged exactly its usage (end-of-generation tokens included)', async () => {
    const t = await startTestServer(model, { parallel: 1 });
    try {
      const r = await postJson(`${t.url}/v1/completions`, {
        prompt: PROMPT,
        max_tokens: 200,
        temperature: 0,
      });
      expect(r.status).toBe(200);
      const text = await scrape(t);
      expect(metricValue(text, 'ternion_generated_tokens_total')).toBe(r.body.usage.completion_tokens);
      expect(metricValue(text, 'ternion_prompt_tokens_total')).toBe(r.body.usage.prompt_tokens);
    } finally {
      await t.close();
    }
  });
});
