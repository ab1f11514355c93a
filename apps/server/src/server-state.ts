import type {
  AdmissionController,
  EngineBreaker,
  GracefulShutdown,
  Metrics,
  RateLimiter,
} from '@ternion/hardening';
import type { ServerEngine } from './engine-host.js';
import type { RequestLimits } from './openai/request-options.js';

/** What the routes share: the engine and the policies in front of it (from @ternion/hardening). */
export interface ServerState {
  engine: ServerEngine;
  limits: RequestLimits;
  /** One slot per sequence (a request with n choices takes n). */
  admission: AdmissionController;
  breaker: EngineBreaker;
  metrics: Metrics;
  rateLimiter: RateLimiter | undefined;
  shutdown: GracefulShutdown;
  /** Aborted when a drain runs out of time: every generation still running stops. */
  shutdownSignal: AbortSignal;
  /** Log prompts and completions (off by default: they may hold personal data). */
  logPrompts: boolean;
  /** Sequences generating now. */
  activeSequences: number;
  /** False once the engine is disposed. */
  loaded: boolean;
}
