import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TernionError } from '@ternion/contracts';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { AdmissionController } from './admission-controller.js';
import { ApiKeyAuth } from './api-key-auth.js';
import { EngineBreaker } from './engine-breaker.js';
import { GracefulShutdown } from './graceful-shutdown.js';
import { type HardeningPluginOptions, hardeningPlugin } from './hardening-plugin.js';
import { HttpError } from './http-error.js';
import { defaultLimits } from './limits.js';
import { Metrics } from './metrics.js';
import { RateLimiter } from './rate-limiter.js';
import { MAX_TIMER_MS } from './timer-ms.js';

const KEY = 'sk-test-key';
const KEY_ID = createHash('sha256').update(KEY).digest('hex').slice(0, 8);
const AUTH = { authorization: `Bearer ${KEY}` };

const completionSchema = {
  body: {
    type: 'object',
    required: ['model', 'prompt'],
    properties: {
      model: { type: 'string' },
      prompt: { type: 'string' },
      max_tokens: { type: 'integer', minimum: 1 },
      messages: {
        type: 'array',
        items: { type: 'object', required: ['role'], properties: { role: { type: 'string' } } },
      },
    },
  },
} as const;

let apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.map((app) => app.close()));
  apps = [];
});

/** A fastify app with the plugin and a few routes that exercise the policies. */
async function build(overrides: Partial<HardeningPluginOptions> = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  apps.push(app);
  await app.register(hardeningPlugin, {
    auth: new ApiKeyAuth({ keys: [KEY] }),
    limits: { ...defaultLimits(2048), maxBodyBytes: 1024 },
    metrics: new Metrics({ defaultMetrics: false }),
    ...overrides,
  });
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/whoami', async (request) => ({
    keyId: request.ternion.keyId,
    aborted: request.ternion.signal.aborted,
  }));
  app.post('/v1/completions', { schema: completionSchema }, async () => ({ object: 'text_completion' }));
  app.post('/engine', async (request) => {
    const { breaker, admission } = app.ternionHardening;
    const release = await admission!.acquire(request.ternion.signal);
    try {
      return await breaker!.execute(async () => {
        throw new TernionError('INTERNAL', 'kernel exploded at /secret/path');
      });
    } finally {
      release();
    }
  });
  return app;
}

/** Every error response must be OpenAI-shaped. */
function expectOpenAiError(body: string, type: string, code: string | null, param: string | null = null) {
  const parsed = JSON.parse(body) as { error: Record<string, unknown> };
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(parsed.error).toMatchObject({ type, code, param });
  expect(typeof parsed.error.message).toBe('string');
  expect((parsed.error.message as string).length).toBeGreaterThan(0);
  return parsed.error;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('hardeningPlugin: auth', () => {
  it('401 with WWW-Authenticate: Bearer for a missing, malformed or wrong key', async () => {
    const app = await build();
    for (const headers of [{}, { authorization: KEY }, { authorization: 'Bearer wrong' }]) {
      const res = await app.inject({ method: 'GET', url: '/whoami', headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expectOpenAiError(res.body, 'authentication_error', 'invalid_api_key');
    }
  });

  it('lets a valid key through with its keyId on request.ternion', async () => {
    const app = await build();
    const res = await app.inject({ method: 'GET', url: '/whoami', headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ keyId: KEY_ID, aborted: false });
  });

  it('skips auth on public routes, with or without a query string', async () => {
    const app = await build();
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/health?probe=1' })).statusCode).toBe(200);
  });

  it('uses the client address as keyId when authentication is off', async () => {
    const app = await build({ auth: undefined });
    const res = await app.inject({ method: 'GET', url: '/whoami', remoteAddress: '10.1.2.3' });
    expect(res.json()).toMatchObject({ keyId: 'ip:10.1.2.3' });
  });

  it('decorates the instance with the policies', async () => {
    const admission = new AdmissionController({ slots: 1, maxQueue: 0 });
    const app = await build({ admission });
    expect(app.ternionHardening.admission).toBe(admission);
    expect(app.ternionHardening.limits.maxBodyBytes).toBe(1024);
  });
});

describe('hardeningPlugin: rate limits', () => {
  it('429 with Retry-After once a key has used its requests per minute; other keys unaffected', async () => {
    let now = 0;
    const other = 'sk-other';
    const app = await build({
      auth: new ApiKeyAuth({ keys: [KEY, other] }),
      rateLimiter: new RateLimiter({ requestsPerMinute: 2, now: () => now }),
    });
    for (let i = 0; i < 2; i++)
      expect((await app.inject({ url: '/whoami', headers: AUTH })).statusCode).toBe(200);
    const limited = await app.inject({ url: '/whoami', headers: AUTH });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('30');
    expectOpenAiError(limited.body, 'rate_limit_error', 'rate_limit_exceeded');
    expect(
      (await app.inject({ url: '/whoami', headers: { authorization: `Bearer ${other}` } })).statusCode,
    ).toBe(200);
    expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
    now += 30_000;
    expect((await app.inject({ url: '/whoami', headers: AUTH })).statusCode).toBe(200);
  });

  it('does not spend rate budget on unauthenticated requests', async () => {
    const rateLimiter = new RateLimiter({ requestsPerMinute: 1 });
    const app = await build({ rateLimiter });
    for (let i = 0; i < 3; i++) expect((await app.inject({ url: '/whoami' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/whoami', headers: AUTH })).statusCode).toBe(200);
  });
});

describe('hardeningPlugin: error bodies', () => {
  const post = (app: FastifyInstance, payload: string, contentType = 'application/json') =>
    app.inject({
      method: 'POST',
      url: '/v1/completions',
      headers: { ...AUTH, 'content-type': contentType },
      payload,
    });

  it('413 for a body over maxBodyBytes, naming the limit and the received size', async () => {
    const app = await build();
    const payload = JSON.stringify({ model: 'm', prompt: 'x'.repeat(2000) });
    const res = await post(app, payload);
    expect(res.statusCode).toBe(413);
    const e = expectOpenAiError(res.body, 'invalid_request_error', 'request_too_large');
    expect(e.message).toBe(
      `Request body is too large: ${Buffer.byteLength(payload)} bytes; this server accepts at most 1024 bytes.`,
    );
  });

  it('415 for a content type other than JSON', async () => {
    const app = await build();
    const res = await post(app, 'prompt=hi', 'application/x-www-form-urlencoded');
    expect(res.statusCode).toBe(415);
    expectOpenAiError(res.body, 'invalid_request_error', 'unsupported_media_type');
  });

  it('400 for malformed or empty JSON', async () => {
    const app = await build();
    const bad = await post(app, '{"model": "m", "prompt": ');
    expect(bad.statusCode).toBe(400);
    expectOpenAiError(bad.body, 'invalid_request_error', 'invalid_json');
    const empty = await post(app, '');
    expect(empty.statusCode).toBe(400);
    expectOpenAiError(empty.body, 'invalid_request_error', 'invalid_json');
  });

  it('400 naming the field for schema violations', async () => {
    const app = await build();
    const wrongType = await post(app, JSON.stringify({ model: 'm', prompt: 'hi', max_tokens: 'many' }));
    expect(wrongType.statusCode).toBe(400);
    const e1 = expectOpenAiError(wrongType.body, 'invalid_request_error', 'invalid_value', 'max_tokens');
    expect(e1.message).toMatch(/max_tokens/);
    const missing = await post(app, JSON.stringify({ model: 'm' }));
    expectOpenAiError(missing.body, 'invalid_request_error', 'invalid_value', 'prompt');
    const nested = await post(
      app,
      JSON.stringify({ model: 'm', prompt: 'p', messages: [{ role: 'user' }, {}] }),
    );
    expectOpenAiError(nested.body, 'invalid_request_error', 'invalid_value', 'messages[1].role');
  });

  it('strictUtf8: 400 invalid_utf8 for a body that is not UTF-8; multi-byte UTF-8 passes intact', async () => {
    const app = await build({ strictUtf8: true });
    app.post('/echo', async (request) => request.body);
    const bad = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: Buffer.concat([Buffer.from('{"prompt":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    });
    expect(bad.statusCode).toBe(400);
    expectOpenAiError(bad.body, 'invalid_request_error', 'invalid_utf8');
    const good = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { ...AUTH, 'content-type': 'application/json; charset=utf-8' },
      payload: Buffer.from(JSON.stringify({ prompt: 'héllo ✓ 🦙' }), 'utf8'),
    });
    expect(good.statusCode).toBe(200);
    expect(good.json()).toEqual({ prompt: 'héllo ✓ 🦙' });
  });

  it("strictUtf8 keeps fastify's prototype-poisoning protection", async () => {
    const app = await build({ strictUtf8: true });
    app.post('/echo', async (request) => request.body);
    const res = await post(app, '{"model":"m","__proto__":{"polluted":true}}');
    expect(res.statusCode).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("leaves the app's own JSON parser alone by default", async () => {
    const app = Fastify();
    apps.push(app);
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
      done(null, { parsedBy: 'app', length: (body as string).length });
    });
    await app.register(hardeningPlugin, { limits: defaultLimits(64) });
    app.post('/echo', async (request) => request.body);
    const res = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: 'xyz',
    });
    expect(res.json()).toEqual({ parsedBy: 'app', length: 3 });
  });

  it('sends an HttpError from a schemaErrorFormatter as it is', async () => {
    const app = Fastify({
      schemaErrorFormatter: () =>
        new HttpError(400, "Missing required parameter: 'prompt'", {
          param: 'prompt',
          code: 'missing_required_parameter',
        }),
    });
    apps.push(app);
    await app.register(hardeningPlugin, { limits: defaultLimits(64) });
    app.post('/v1/completions', { schema: completionSchema }, async () => ({}));
    const res = await app.inject({ method: 'POST', url: '/v1/completions', payload: { model: 'm' } });
    expect(res.statusCode).toBe(400);
    const e = expectOpenAiError(res.body, 'invalid_request_error', 'missing_required_parameter', 'prompt');
    expect(e.message).toBe("Missing required parameter: 'prompt'");
  });

  it('404 for unknown routes, OpenAI-shaped', async () => {
    const app = await build();
    const res = await app.inject({ method: 'GET', url: '/v1/nope?x=1', headers: AUTH });
    expect(res.statusCode).toBe(404);
    const e = expectOpenAiError(res.body, 'not_found_error', 'not_found');
    expect(e.message).toBe('Unknown route: GET /v1/nope');
  });

  it('500 without internal details for engine faults; the breaker opens and then 503s with Retry-After', async () => {
    const app = await build({
      admission: new AdmissionController({ slots: 1, maxQueue: 0 }),
      breaker: new EngineBreaker({ failureThreshold: 2, halfOpenAfterMs: 30_000 }),
    });
    for (let i = 0; i < 2; i++) {
      const res = await app.inject({ method: 'POST', url: '/engine', headers: AUTH });
      expect(res.statusCode).toBe(500);
      const e = expectOpenAiError(res.body, 'server_error', 'internal_error');
      expect(e.message).not.toMatch(/secret/);
    }
    const open = await app.inject({ method: 'POST', url: '/engine', headers: AUTH });
    expect(open.statusCode).toBe(503);
    expect(open.headers['retry-after']).toBe('30');
    expectOpenAiError(open.body, 'server_error', 'engine_unavailable');
    expect(app.ternionHardening.admission!.running).toBe(0);
  });

  it('503 OVERLOADED with Retry-After when the admission queue is full', async () => {
    const admission = new AdmissionController({ slots: 1, maxQueue: 0 });
    const app = await build({ admission, breaker: new EngineBreaker() });
    const hold = await admission.acquire();
    const res = await app.inject({ method: 'POST', url: '/engine', headers: AUTH });
    hold();
    expect(res.statusCode).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expectOpenAiError(res.body, 'server_error', 'overloaded');
  });
});

describe('hardeningPlugin: metrics, shutdown, signals', () => {
  it('counts requests by route template and status, and errors by code', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const app = await build({ metrics });
    await app.inject({ url: '/whoami', headers: AUTH });
    await app.inject({ url: '/whoami' });
    await app.inject({ url: '/missing', headers: AUTH });
    await flush();
    const text = await metrics.metrics();
    expect(text).toContain('ternion_requests_total{route="/whoami",status="200"} 1');
    expect(text).toContain('ternion_requests_total{route="/whoami",status="401"} 1');
    expect(text).toContain('ternion_requests_total{route="not_found",status="404"} 1');
    expect(text).toContain('ternion_errors_total{code="invalid_api_key"} 1');
  });

  it('mirrors the breaker state into the circuit-breaker gauge', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const app = await build({
      metrics,
      admission: new AdmissionController({ slots: 1, maxQueue: 0 }),
      breaker: new EngineBreaker({ failureThreshold: 1, halfOpenAfterMs: 60_000 }),
    });
    expect(await metrics.metrics()).toContain('ternion_circuit_breaker_state 0');
    await app.inject({ method: 'POST', url: '/engine', headers: AUTH });
    expect(await metrics.metrics()).toContain('ternion_circuit_breaker_state 2');
  });

  it('refuses new requests with 503 + Connection: close while draining; public routes still answer', async () => {
    const shutdown = new GracefulShutdown({ graceMs: 1000 });
    const app = await build({ shutdown });
    void shutdown.shutdown('test');
    const res = await app.inject({ url: '/whoami', headers: AUTH });
    expect(res.statusCode).toBe(503);
    expect(res.headers.connection).toBe('close');
    expectOpenAiError(res.body, 'server_error', 'shutting_down');
    expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
    await shutdown.finished;
  });

  it('probeRoutes need the key but skip the request rate limit and the draining refusal', async () => {
    const shutdown = new GracefulShutdown({ graceMs: 1000 });
    const app = await build({
      shutdown,
      probeRoutes: ['/whoami'],
      rateLimiter: new RateLimiter({ requestsPerMinute: 1 }),
    });
    expect((await app.inject({ url: '/whoami' })).statusCode).toBe(401);
    for (let i = 0; i < 3; i++)
      expect((await app.inject({ url: '/whoami', headers: AUTH })).statusCode).toBe(200);
    void shutdown.shutdown('test');
    expect((await app.inject({ url: '/whoami', headers: AUTH })).statusCode).toBe(200);
    expect((await app.inject({ url: '/whoami' })).statusCode).toBe(401);
    await shutdown.finished;
  });

  it('reportStreamError counts the error by code and records its status instead of the 200 sent', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const app = await build({ metrics });
    let reported: HttpError | undefined;
    app.get('/stream', async (request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.write('data: {}\n\n');
      reported = request.ternion.reportStreamError(
        new TernionError('DEADLINE_EXCEEDED', 'The request exceeded its deadline of 5 ms.'),
      );
      reply.raw.end(`data: ${JSON.stringify({ error: { code: reported.code } })}\n\n`);
    });
    const res = await app.inject({ url: '/stream', headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(reported?.status).toBe(504);
    expect(reported?.code).toBe('deadline_exceeded');
    await flush();
    const text = await metrics.metrics();
    expect(text).toContain('ternion_requests_total{route="/stream",status="504"} 1');
    expect(text).not.toContain('status="200"');
    expect(text).toContain('ternion_errors_total{code="deadline_exceeded"} 1');
  });

  it('tracks in-flight requests for the drain', async () => {
    const shutdown = new GracefulShutdown({ graceMs: 5000 });
    const app = await build({ shutdown });
    let release!: () => void;
    app.get('/slow', async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return { done: true };
    });
    const pending = app.inject({ url: '/slow', headers: AUTH });
    while (release === undefined) await flush();
    expect(shutdown.inFlightCount).toBe(1);
    release();
    await pending;
    await flush();
    expect(shutdown.inFlightCount).toBe(0);
  });

  it('aborts request.ternion.signal with DEADLINE_EXCEEDED when the deadline passes', async () => {
    const app = await build({ deadlineMs: 50 });
    app.get('/wait', async (request) => {
      const { signal } = request.ternion;
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      throw signal.reason;
    });
    const res = await app.inject({ url: '/wait', headers: AUTH });
    expect(res.statusCode).toBe(504);
    expectOpenAiError(res.body, 'server_error', 'deadline_exceeded');
  });

  it('aborts request.ternion.signal when the client disconnects mid-response (real socket)', async () => {
    const app = await build();
    let signal: AbortSignal | undefined;
    const aborted = new Promise<unknown>((resolve) => {
      app.get('/stream', (request, reply) => {
        signal = request.ternion.signal;
        signal.addEventListener('abort', () => resolve(signal!.reason), { once: true });
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
        reply.raw.write('data: {"token":1}\n\n');
      });
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/stream', headers: AUTH }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', reject);
      req.end();
    });
    const reason = await aborted;
    expect(signal!.aborted).toBe(true);
    expect((reason as TernionError).code).toBe('ABORTED');
  });

  it('does not abort the signal of a request that completed normally', async () => {
    const app = await build();
    let signal: AbortSignal | undefined;
    app.get('/done', async (request) => {
      signal = request.ternion.signal;
      return { ok: true };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/done`, { headers: AUTH });
    expect(res.status).toBe(200);
    await res.text();
    await flush();
    expect(signal!.aborted).toBe(false);
  });

  it('rejects bad plugin options', async () => {
    const app = Fastify();
    apps.push(app);
    await expect(
      app.register(hardeningPlugin, { limits: { ...defaultLimits(64), maxN: 0 } }),
    ).rejects.toThrow(/limits.maxN/);
  });

  it('rejects a deadline setTimeout cannot hold, naming deadlineMs', async () => {
    for (const deadlineMs of [MAX_TIMER_MS + 1, Number.POSITIVE_INFINITY, Number.NaN, 0, -1]) {
      const app = Fastify();
      apps.push(app);
      await expect(app.register(hardeningPlugin, { limits: defaultLimits(64), deadlineMs })).rejects.toThrow(
        /hardeningPlugin: deadlineMs/,
      );
    }
  });

  it('a deadline of MAX_TIMER_MS does not cut a request short', async () => {
    const app = await build({ deadlineMs: MAX_TIMER_MS });
    app.get('/tick', async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { aborted: request.ternion.signal.aborted };
    });
    const res = await app.inject({ url: '/tick', headers: AUTH });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ aborted: false });
  });
});
