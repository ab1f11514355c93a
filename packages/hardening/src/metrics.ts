import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Live values read at scrape time. Every field is optional: a missing one leaves its gauge as last set. */
export interface MetricsSnapshot {
  /** Requests waiting for a slot. */
  queueDepth?: number;
  /** Sequences generating now. */
  running?: number;
  /** Used fraction of the KV cache, in [0, 1]. */
  kvUsage?: number;
  /** Prefix-cache hits / queries, in [0, 1]. */
  prefixHitRate?: number;
  /** 0 closed, 1 half-open, 2 open. */
  breakerState?: number;
  /**
   * Sequences preempted since start (KV blocks taken back when the cache ran out), a running total the
   * engine keeps; `ternion_preemptions_total` follows it.
   */
  preemptions?: number;
}

export interface MetricsOptions {
  /** Called at every scrape to refresh the gauges. Must be cheap and must not throw. */
  collect?: () => MetricsSnapshot;
  /** Also export prom-client's default process metrics (CPU, memory, event-loop lag, GC). Default true. */
  defaultMetrics?: boolean;
  /** Constant labels on every series, e.g. `{ model: 'bitnet-2b' }`. */
  labels?: Record<string, string>;
}

/** Seconds; TTFT on a CPU spans ~10 ms (short prompt, idle) to tens of seconds (long prompt, full queue). */
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds; per-token decode latency of a ternary model on a CPU is ~5 ms to ~500 ms. */
const ITL_BUCKETS = [0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56];

/**
 * The server's Prometheus metrics, on a private `Registry` (not prom-client's global one, so two servers or
 * two test cases in one process never collide). Counters and histograms are fed by the methods below; the
 * gauges are refreshed from `collect()` at scrape time, so there is no timer and no stale value.
 */
export class Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'status'>;
  readonly promptTokens: Counter;
  readonly generatedTokens: Counter;
  readonly timeToFirstToken: Histogram;
  readonly interTokenLatency: Histogram;
  readonly queueDepth: Gauge;
  readonly runningSequences: Gauge;
  readonly kvCacheUsage: Gauge;
  readonly prefixCacheHitRatio: Gauge;
  readonly errors: Counter<'code'>;
  readonly circuitBreakerState: Gauge;
  readonly preemptions: Counter;

  constructor(options: MetricsOptions = {}) {
    if (options.collect !== undefined && typeof options.collect !== 'function') {
      throw new TypeError('Metrics: options.collect must be a function returning a MetricsSnapshot');
    }
    const registry = new Registry();
    if (options.labels) registry.setDefaultLabels(options.labels);
    this.registry = registry;
    const registers = [registry];
    const collect = options.collect;
    let snapshot: MetricsSnapshot = {};
    // One collect() call per scrape, shared by all gauges: the first gauge collected refreshes the snapshot.
    const refresh = () => {
      if (collect) snapshot = collect();
    };
    const liveGauge = (
      name: string,
      help: string,
      pick: (s: MetricsSnapshot) => number | undefined,
      first = false,
    ) =>
      new Gauge({
        name,
        help,
        registers,
        collect(this: Gauge) {
          if (first) refresh();
          const value = pick(snapshot);
          if (typeof value === 'number' && Number.isFinite(value)) this.set(value);
        },
      });

    this.requests = new Counter({
      name: 'ternion_requests_total',
      help: 'HTTP requests answered, by route template and status code',
      labelNames: ['route', 'status'] as const,
      registers,
    });
    this.promptTokens = new Counter({
      name: 'ternion_prompt_tokens_total',
      help: 'Prompt tokens processed',
      registers,
    });
    this.generatedTokens = new Counter({
      name: 'ternion_generated_tokens_total',
      help: 'Tokens generated',
      registers,
    });
    this.timeToFirstToken = new Histogram({
      name: 'ternion_time_to_first_token_seconds',
      help: 'Time from request arrival to the first generated token',
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.interTokenLatency = new Histogram({
      name: 'ternion_inter_token_latency_seconds',
      help: 'Time between consecutive generated tokens of one sequence',
      buckets: ITL_BUCKETS,
      registers,
    });
    this.queueDepth = liveGauge(
      'ternion_queue_depth',
      'Requests waiting for a free sequence slot',
      (s) => s.queueDepth,
      true,
    );
    this.runningSequences = liveGauge(
      'ternion_running_sequences',
      'Sequences generating now',
      (s) => s.running,
    );
    this.kvCacheUsage = liveGauge(
      'ternion_kv_cache_usage_ratio',
      'Used fraction of the KV cache (0..1)',
      (s) => s.kvUsage,
    );
    this.prefixCacheHitRatio = liveGauge(
      'ternion_prefix_cache_hit_ratio',
      'Prefix-cache hits over queries (0..1)',
      (s) => s.prefixHitRate,
    );
    this.errors = new Counter({
      name: 'ternion_errors_total',
      help: 'Errors answered, by code',
      labelNames: ['code'] as const,
      registers,
    });
    this.circuitBreakerState = liveGauge(
      'ternion_circuit_breaker_state',
      'Engine circuit breaker: 0 closed, 1 half-open, 2 open',
      (s) => s.breakerState,
    );
    let preemptionsSeen = 0;
    this.preemptions = new Counter({
      name: 'ternion_preemptions_total',
      help: 'Sequences preempted because the KV cache ran out (recomputed later; see kvCacheTokens)',
      registers,
      collect(this: Counter) {
        // A counter cannot be set: add what the engine's running total gained since the last scrape.
        const total = snapshot.preemptions;
        if (typeof total === 'number' && Number.isFinite(total) && total > preemptionsSeen) {
          this.inc(total - preemptionsSeen);
          preemptionsSeen = total;
        }
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  }

  /** Content-Type for the `/metrics` response. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  observeRequest(route: string, status: number | string): void {
    this.requests.inc({ route, status: String(status) });
  }

  addPromptTokens(n: number): void {
    if (n > 0) this.promptTokens.inc(n);
  }

  addGeneratedTokens(n: number): void {
    if (n > 0) this.generatedTokens.inc(n);
  }

  observeTimeToFirstToken(seconds: number): void {
    this.timeToFirstToken.observe(seconds);
  }

  observeInterTokenLatency(seconds: number): void {
    this.interTokenLatency.observe(seconds);
  }

  countError(code: string): void {
    this.errors.inc({ code });
  }

  /** Sets the breaker gauge directly (e.g. from `EngineBreaker.onStateChange`) when `collect` does not. */
  setBreakerState(state: 'closed' | 'half-open' | 'open'): void {
    this.circuitBreakerState.set(state === 'closed' ? 0 : state === 'half-open' ? 1 : 2);
  }
}
