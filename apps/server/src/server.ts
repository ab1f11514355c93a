import type { AddressInfo } from 'node:net';
import {
  AdmissionController,
  ApiKeyAuth,
  defaultLimits,
  EngineBreaker,
  type EngineBreakerOptions,
  GracefulShutdown,
  hardeningPlugin,
  type Limits,
  Metrics,
  RateLimiter,
  type RateLimiterOptions,
  RetryLaterError,
  validateLimits,
} from '@ternion/hardening';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ServerEngine } from './engine-host.js';
import { type AjvError, validationError } from './error-handler.js';
import { parseJsonBody } from './json-body-parser.js';
import { registerChatCompletions } from './routes/chat-completions.js';
import { registerCompletions } from './routes/completions.js';
import { registerHealth } from './routes/health.js';
import { registerModels } from './routes/models.js';
import type { ServerState } from './server-state.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface CreateServerOptions {
  /** The engine to serve (see ModelEngine). */
  engine: ServerEngine;
  /** Dispose the engine in close() (default false; startServer passes true). */
  ownsEngine?: boolean;
  /** Default 127.0.0.1: exposing a model server is a decision, not a default. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /**
   * Accepted bearer keys. With no keys (and no file) authentication is off. With keys, every route but
   * `/health` needs one, `/ready` and `/metrics` included (see publicReady / publicMetrics).
   */
  apiKeys?: readonly string[];
  /** A file with one key per line (`#` comments, `sha256:<hex>` digests allowed). */
  apiKeysFile?: string;
  /**
   * Serve `/metrics` without an API key (default false), for a scraper that cannot send a bearer token.
   * The metrics reveal load and traffic, not prompts; expose them only where the network is trusted.
   */
  publicMetrics?: boolean;
  /** Serve `/ready` without an API key (default false), for a probe that cannot send a bearer token. */
  publicReady?: boolean;
  /** Per-client limits (client = API key id, or IP without keys). Off when not given. */
  rateLimit?: RateLimiterOptions;
  /** Sequences that may wait for a free one before 503 + Retry-After (default 64). */
  maxQueue?: number;
  /** Request limits (default hardening's defaultLimits(contextSize)); partial values override. */
  limits?: Partial<Limits>;
  /**
   * Deadline per request in ms, from arrival (default none). A request that has not finished by then is
   * cut and its KV blocks freed: 504 `deadline_exceeded`, or an `error` event when its stream had started.
   */
  requestTimeoutMs?: number;
  /** On close(): how long running generations may finish before they are cut (default 30 s). */
  drainTimeoutMs?: number;
  breaker?: EngineBreakerOptions;
  /** pino level (default 'info'). */
  logLevel?: LogLevel;
  /** Where logs go (default stdout). */
  logStream?: NodeJS.WritableStream;
  /** Log prompts and completions (default false: they may hold personal data). */
  logPrompts?: boolean;
}

export interface TernionServer {
  app: FastifyInstance;
  /** Listens; resolves with the base URL (`http://127.0.0.1:PORT`). */
  start(): Promise<string>;
  /** Drains (new completions get 503, running ones finish or are cut after drainTimeoutMs) and closes. */
  close(): Promise<void>;
  readonly state: ServerState;
}

/** Probes and metrics: no rate limit, and they keep answering while the server drains. */
const PROBE_ROUTES = ['/ready', '/metrics'];

export function createServer(options: CreateServerOptions): TernionServer {
  const { engine } = options;
  const limits = validateLimits(
    { ...defaultLimits(engine.contextSize), ...options.limits },
    engine.contextSize,
  );
  const auth = new ApiKeyAuth({
    keys: [...(options.apiKeys ?? [])],
    ...(options.apiKeysFile === undefined ? {} : { keysFile: options.apiKeysFile }),
  });
  const rateLimiter = options.rateLimit ? new RateLimiter(options.rateLimit) : undefined;
  const admission = new AdmissionController({ slots: engine.parallel, maxQueue: options.maxQueue ?? 64 });
  const breaker = new EngineBreaker(options.breaker);
  const cutGenerations = new AbortController();
  // Liveness is always public; readiness and metrics need the key unless the operator says otherwise.
  const publicRoutes = [
    '/health',
    ...(options.publicReady ? ['/ready'] : []),
    ...(options.publicMetrics ? ['/metrics'] : []),
  ];

  const logger: FastifyServerOptions['logger'] = {
    level: options.logLevel ?? 'info',
    // Keys never reach the logs.
    redact: ['req.headers.authorization'],
    ...(options.logStream ? { stream: options.logStream } : {}),
  };
  const app = Fastify({
    logger,
    bodyLimit: limits.maxBodyBytes,
    // Idle keep-alive sockets would hold close() open; active ones (streams) are drained instead.
    forceCloseConnections: 'idle',
    // Requests arriving on kept-alive connections during the drain get hardening's OpenAI-shaped 503
    // `shutting_down` (+ Connection: close) instead of fastify's own plain 503.
    return503OnClosing: false,
    ajv: {
      // Wrong types are errors, never coerced ("2" is not 2); unknown fields stay (and are ignored).
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
    schemaErrorFormatter: (errors) => validationError(errors as unknown as AjvError[]),
  });

  const shutdown = new GracefulShutdown({
    graceMs: options.drainTimeoutMs ?? 30_000,
    onDrainStart: () =>
      admission.rejectQueued(
        new RetryLaterError('SHUTTING_DOWN', 'The server is shutting down.', { retryAfterSeconds: 1 }),
      ),
    closeServer: () => app.close(),
    cancelAll: () => cutGenerations.abort(new Error('server shutting down')),
    log: (message) => app.log.info(message),
  });

  const state: ServerState = {
    engine,
    limits: {
      ...limits,
      maxChoices: Math.min(limits.maxN, engine.parallel),
      vocabSize: engine.vocabSize,
      contextSize: engine.contextSize,
    },
    admission,
    breaker,
    metrics: new Metrics({
      collect: () => {
        const kv = state.loaded ? engine.kvStats() : undefined;
        return {
          queueDepth: admission.queued,
          running: state.activeSequences,
          kvUsage: kv?.usage ?? 0,
          prefixHitRate: kv && kv.prefixCacheQueries > 0 ? kv.prefixCacheHits / kv.prefixCacheQueries : 0,
          breakerState: breaker.stateValue,
          ...(kv ? { preemptions: kv.preemptions } : {}),
        };
      },
    }),
    rateLimiter,
    shutdown,
    shutdownSignal: cutGenerations.signal,
    logPrompts: options.logPrompts ?? false,
    activeSequences: 0,
    loaded: true,
  };

  // JSON only: a text/plain body is a 415, not a string that fails the schema.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  void app.register(hardeningPlugin, {
    auth,
    ...(rateLimiter ? { rateLimiter } : {}),
    admission,
    breaker,
    metrics: state.metrics,
    limits,
    shutdown,
    publicRoutes,
    probeRoutes: PROBE_ROUTES,
    ...(options.requestTimeoutMs === undefined ? {} : { deadlineMs: options.requestTimeoutMs }),
  });
  void app.register(async (scope) => {
    registerHealth(scope, state);
    registerModels(scope, state);
    registerChatCompletions(scope, state);
    registerCompletions(scope, state);
  });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await shutdown.shutdown('close');
      await app.close();
      if (options.ownsEngine && state.loaded) {
        state.loaded = false;
        engine.dispose();
      }
    })();
    return closing;
  };

  return {
    app,
    state,
    async start() {
      await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
      const a = app.server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      return `http://${host}:${a.port}`;
    },
    close,
  };
}
