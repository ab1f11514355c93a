/**
 * @ternion/hardening — production policies for a Ternion server: API keys, per-key rate limits, admission
 * control (bounded queue), deadlines, an engine circuit breaker, request limits and OpenAI-shaped errors,
 * Prometheus metrics, graceful shutdown, and a fastify plugin wiring them into a server.
 */
export {
  AdmissionController,
  type AdmissionControllerOptions,
  type Release,
} from './admission-controller.js';
export { ANONYMOUS_KEY_ID, ApiKeyAuth, type ApiKeyAuthOptions, type AuthResult } from './api-key-auth.js';
export { type DeadlineSignal, deadlineSignal, isAbortError } from './deadline.js';
export {
  type BreakerState,
  type Disposable,
  EngineBreaker,
  type EngineBreakerOptions,
  isEngineFailure,
} from './engine-breaker.js';
export { GracefulShutdown, type GracefulShutdownOptions, type SignalSource } from './graceful-shutdown.js';
export {
  type HardeningPluginOptions,
  type HardeningPolicies,
  hardeningPlugin,
  type RequestContext,
} from './hardening-plugin.js';
export {
  HttpError,
  type HttpErrorContext,
  type HttpErrorOptions,
  httpStatusForCode,
  type OpenAiErrorType,
  openAiErrorBody,
  RetryLaterError,
  type RetryLaterErrorOptions,
  retryAfterOf,
  toHttpError,
} from './http-error.js';
export {
  checkCount,
  defaultLimits,
  type Limits,
  type TokenBudget,
  type TokenBudgetRequest,
  tokenBudget,
  validateLimits,
} from './limits.js';
export { Metrics, type MetricsOptions, type MetricsSnapshot } from './metrics.js';
export { RateLimiter, type RateLimiterOptions, type RateLimitResult } from './rate-limiter.js';
export { decodeUtf8Strict, INVALID_UTF8_CODE } from './strict-utf8.js';
export { MAX_TIMER_MS } from './timer-ms.js';
