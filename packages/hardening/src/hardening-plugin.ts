import { TernionError } from '@ternion/contracts';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AdmissionController } from './admission-controller.js';
import type { ApiKeyAuth } from './api-key-auth.js';
import { deadlineSignal } from './deadline.js';
import type { EngineBreaker } from './engine-breaker.js';
import type { GracefulShutdown } from './graceful-shutdown.js';
import { HttpError, openAiErrorBody, RetryLaterError, toHttpError } from './http-error.js';
import { type Limits, validateLimits } from './limits.js';
import type { Metrics } from './metrics.js';
import type { RateLimiter } from './rate-limiter.js';
import { decodeUtf8Strict } from './strict-utf8.js';
import { checkTimerMs } from './timer-ms.js';

export interface HardeningPluginOptions {
  /** API keys; omitted or without keys = no authentication. */
  auth?: ApiKeyAuth;
  /** Per-key request limits checked on every non-public request (token limits are charged by the routes). */
  rateLimiter?: RateLimiter;
  admission?: AdmissionController;
  breaker?: EngineBreaker;
  metrics?: Metrics;
  limits: Limits;
  /** Paths that skip auth, rate limits and the draining refusal (default `['/health']`). Exact match, no query. */
  publicRoutes?: string[];
  /**
   * Paths that still require the API key but skip request rate limits and the draining refusal (default none):
   * a readiness probe and a metrics scraper must keep getting answers while the server drains, and scraping
   * must not eat a key's request budget. Exact match, no query.
   */
  probeRoutes?: string[];
  shutdown?: GracefulShutdown;
  /**
   * Per-request deadline in ms (finite, at most MAX_TIMER_MS): `request.ternion.signal` aborts with
   * DEADLINE_EXCEEDED after it. Default none.
   */
  deadlineMs?: number;
  /** Install an OpenAI-shaped 404 handler (default true). Set false if the app sets its own. */
  notFoundHandler?: boolean;
  /**
   * Replace fastify's JSON body parser with one that rejects invalid UTF-8 (400 `invalid_utf8`) instead of
   * silently turning it into U+FFFD, keeping fastify's prototype-poisoning protection. Default false: off
   * unless asked for, so it never replaces an `application/json` parser the app installed itself.
   */
  strictUtf8?: boolean;
}

/** Per-request state the plugin attaches as `request.ternion`. */
export interface RequestContext {
  /**
   * Who is calling: the API key's id (first 8 hex of its sha256), or `ip:<address>` when authentication is
   * off, so rate limits are still per client. Use it for `rateLimiter.tryTokens` / `chargeTokens`.
   */
  keyId: string;
  /** Aborts when the client disconnects before the response finished, or when the deadline passes. */
  signal: AbortSignal;
  /** `performance.now()` when the request arrived (for time-to-first-token). */
  startedAt: number;
  /**
   * For a response that already sent its 200 headers (a hijacked SSE stream) and then failed: normalises the
   * error like the error handler (log, `ternion_errors_total{code}`), makes `ternion_requests_total` record
   * the error's status instead of the 200 on the wire, and returns the HttpError for the stream's `error`
   * event. Not for client disconnects (those are recorded as 499 already).
   */
  reportStreamError(err: unknown): HttpError;
}

/** The policies, decorated on the instance as `fastify.ternionHardening`. */
export interface HardeningPolicies {
  auth: ApiKeyAuth | undefined;
  rateLimiter: RateLimiter | undefined;
  admission: AdmissionController | undefined;
  breaker: EngineBreaker | undefined;
  metrics: Metrics | undefined;
  limits: Readonly<Limits>;
  shutdown: GracefulShutdown | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    ternion: RequestContext;
  }
  interface FastifyInstance {
    ternionHardening: HardeningPolicies;
  }
}

const hardening: FastifyPluginAsync<HardeningPluginOptions> = async (fastify, options) => {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('hardeningPlugin: options must be an object');
  const limits = validateLimits(options.limits);
  const publicRoutes = new Set(options.publicRoutes ?? ['/health']);
  const probeRoutes = new Set(options.probeRoutes ?? []);
  const { auth, rateLimiter, metrics, shutdown } = options;
  // Checked here, not at the first request: setTimeout would turn a delay past MAX_TIMER_MS into 1 ms and
  // every request would get a 504.
  if (options.deadlineMs !== undefined) {
    checkTimerMs(options.deadlineMs, 'hardeningPlugin: deadlineMs', { positive: true });
  }

  fastify.decorate('ternionHardening', {
    auth,
    rateLimiter,
    admission: options.admission,
    breaker: options.breaker,
    metrics,
    limits,
    shutdown,
  } satisfies HardeningPolicies);
  fastify.decorateRequest('ternion', null as unknown as RequestContext);

  // fastify's bodyLimit is fixed per route; routes registered after this plugin get the configured one.
  fastify.addHook('onRoute', (route) => {
    route.bodyLimit ??= limits.maxBodyBytes;
  });

  const logAndCount = (request: FastifyRequest, http: HttpError, err: unknown) => {
    // 503/504 are load and deadlines (expected under pressure): warn; other 5xx are faults: error, with stack.
    if (http.status === 503 || http.status === 504)
      request.log.warn({ status: http.status, code: http.code }, http.message);
    else if (http.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ status: http.status, code: http.code }, http.message);
    metrics?.countError(http.code ?? String(http.status));
  };

  fastify.addHook('onRequest', async (request, reply) => {
    const keyId = callerId(request);
    // Set by reportStreamError: the status a stream that failed after its 200 headers is recorded with.
    let failedStatus: number | undefined;
    const { signal, finish } = watchRequest(request, reply, options.deadlineMs, (status) => {
      const recorded = status === CLIENT_CLOSED ? status : (failedStatus ?? status);
      metrics?.observeRequest(request.routeOptions.url ?? 'not_found', recorded);
    });
    request.ternion = {
      keyId,
      signal,
      startedAt: performance.now(),
      reportStreamError(err) {
        const http = toHttpError(err);
        failedStatus = http.status;
        logAndCount(request, http, err);
        return http;
      },
    };
    if (shutdown) shutdown.track(finish);

    const path = pathOf(request.url);
    if (publicRoutes.has(path)) return;
    const probe = probeRoutes.has(path);
    if (shutdown?.draining && !probe) {
      reply.header('Connection', 'close');
      throw new RetryLaterError('SHUTTING_DOWN', 'The server is shutting down.', {
        retryAfterSeconds: 1,
        hint: 'retry on another replica',
      });
    }
    if (auth?.enabled) {
      const result = auth.check(request.headers.authorization);
      if (!result.ok) {
        throw new HttpError(401, result.reason, {
          code: 'invalid_api_key',
          headers: { 'WWW-Authenticate': 'Bearer' },
        });
      }
      request.ternion.keyId = result.keyId;
    }
    if (rateLimiter?.enabled && !probe) {
      const result = rateLimiter.tryRequest(request.ternion.keyId);
      if (!result.ok) {
        throw new HttpError(429, result.reason, {
          code: 'rate_limit_exceeded',
          retryAfterSeconds: result.retryAfterSeconds,
        });
      }
    }
  });

  fastify.setErrorHandler((err, request, reply) => {
    const contentLength = Number(request.headers['content-length']);
    const http = toHttpError(err, {
      bodyLimitBytes: request.routeOptions.bodyLimit ?? limits.maxBodyBytes,
      ...(Number.isSafeInteger(contentLength) ? { receivedBytes: contentLength } : {}),
    });
    logAndCount(request, http, err);
    for (const [name, value] of Object.entries(http.headers)) reply.header(name, value);
    if (http.retryAfterSeconds !== undefined) {
      reply.header('Retry-After', String(Math.max(1, Math.ceil(http.retryAfterSeconds))));
    }
    return reply.code(http.status).type('application/json; charset=utf-8').send(openAiErrorBody(http));
  });

  if (options.breaker && metrics) {
    const { breaker } = options;
    metrics.setBreakerState(breaker.state);
    const subscription = breaker.onStateChange((state) => metrics.setBreakerState(state));
    fastify.addHook('onClose', async () => subscription.dispose());
  }

  if (options.strictUtf8 === true) {
    const parseJson = fastify.getDefaultJsonParser(
      fastify.initialConfig.onProtoPoisoning ?? 'error',
      fastify.initialConfig.onConstructorPoisoning ?? 'error',
    );
    fastify.removeContentTypeParser('application/json');
    fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      let text: string;
      try {
        text = decodeUtf8Strict(body as Buffer);
      } catch (e) {
        done(e as Error, undefined);
        return;
      }
      parseJson(request, text, done);
    });
  }

  if (options.notFoundHandler !== false) {
    fastify.setNotFoundHandler(async (request) => {
      throw new HttpError(404, `Unknown route: ${request.method} ${pathOf(request.url)}`, {
        code: 'not_found',
      });
    });
  }
};

/**
 * Auth, rate limits, an OpenAI-shaped error handler, per-request abort signals and request metrics for a
 * Ternion fastify server. Wrapped with fastify-plugin so the hooks apply to every route of the instance.
 * Register it before the routes (their `bodyLimit` comes from `limits.maxBodyBytes`).
 */
export const hardeningPlugin = fp(hardening, { name: '@ternion/hardening', fastify: '5.x' });

/** nginx's "client closed request": the status recorded when the client left before the response ended. */
const CLIENT_CLOSED = 499;

function callerId(request: FastifyRequest): string {
  return `ip:${request.ip || 'unknown'}`;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Creates the request's signal and a promise that settles when the response is over. `close` on the response
 * fires both after a normal finish and when the connection drops first; only the latter aborts (a request's
 * own 'close' is useless here: it fires as soon as the body has been read).
 */
function watchRequest(
  request: FastifyRequest,
  reply: FastifyReply,
  deadlineMs: number | undefined,
  onDone: (status: number) => void,
): { signal: AbortSignal; finish: Promise<void> } {
  const disconnect = new AbortController();
  const deadline = deadlineMs === undefined ? undefined : deadlineSignal(deadlineMs, disconnect.signal);
  let resolveFinish!: () => void;
  const finish = new Promise<void>((resolve) => {
    resolveFinish = resolve;
  });
  // 'finish' is tracked too: light-my-request (inject) responses never set writableFinished.
  let finishedFlag = false;
  reply.raw.once('finish', () => {
    finishedFlag = true;
  });
  reply.raw.once('close', () => {
    const finished = finishedFlag || reply.raw.writableFinished;
    if (!finished) {
      disconnect.abort(
        new TernionError('ABORTED', `Client disconnected: ${request.method} ${pathOf(request.url)}`),
      );
    }
    deadline?.dispose();
    onDone(finished ? reply.raw.statusCode : CLIENT_CLOSED);
    resolveFinish();
  });
  return { signal: deadline?.signal ?? disconnect.signal, finish };
}
