import { describe, expect, it, vi } from 'vitest';
import { Metrics, type MetricsSnapshot } from './metrics.js';

const NAMES = [
  'ternion_requests_total',
  'ternion_prompt_tokens_total',
  'ternion_generated_tokens_total',
  'ternion_time_to_first_token_seconds',
  'ternion_inter_token_latency_seconds',
  'ternion_queue_depth',
  'ternion_running_sequences',
  'ternion_kv_cache_usage_ratio',
  'ternion_prefix_cache_hit_ratio',
  'ternion_errors_total',
  'ternion_circuit_breaker_state',
];

/** The value of one sample line, e.g. `ternion_queue_depth 3`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Metrics', () => {
  it('exposes every Ternion metric plus default process metrics, on a private registry', async () => {
    const a = new Metrics();
    const b = new Metrics(); // a second instance must not collide (private registries)
    const text = await a.metrics();
    for (const name of NAMES) expect(text).toContain(`# TYPE ${name} `);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_heap_size_used_bytes');
    expect(a.contentType).toMatch(/^text\/plain/);
    expect(a.registry).not.toBe(b.registry);
  });

  it('counts requests, tokens and errors with their labels', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.observeRequest('/v1/completions', 200);
    m.observeRequest('/v1/completions', 200);
    m.observeRequest('/v1/completions', '429');
    m.addPromptTokens(12);
    m.addGeneratedTokens(5);
    m.addGeneratedTokens(0);
    m.countError('overloaded');
    const text = await m.metrics();
    expect(sample(text, 'ternion_requests_total{route="/v1/completions",status="200"}')).toBe(2);
    expect(sample(text, 'ternion_requests_total{route="/v1/completions",status="429"}')).toBe(1);
    expect(sample(text, 'ternion_prompt_tokens_total')).toBe(12);
    expect(sample(text, 'ternion_generated_tokens_total')).toBe(5);
    expect(sample(text, 'ternion_errors_total{code="overloaded"}')).toBe(1);
    expect(text).not.toContain('process_cpu');
  });

  it('fills the latency histograms', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.observeTimeToFirstToken(0.2);
    m.observeTimeToFirstToken(3);
    m.observeInterTokenLatency(0.015);
    const text = await m.metrics();
    expect(sample(text, 'ternion_time_to_first_token_seconds_count')).toBe(2);
    expect(sample(text, 'ternion_time_to_first_token_seconds_bucket{le="0.25"}')).toBe(1);
    expect(sample(text, 'ternion_time_to_first_token_seconds_sum')).toBeCloseTo(3.2);
    expect(sample(text, 'ternion_inter_token_latency_seconds_bucket{le="0.01"}')).toBe(0);
    expect(sample(text, 'ternion_inter_token_latency_seconds_bucket{le="0.02"}')).toBe(1);
  });

  it('reads the gauges from collect() once per scrape', async () => {
    let snapshot: MetricsSnapshot = {
      queueDepth: 3,
      running: 16,
      kvUsage: 0.5,
      prefixHitRate: 0.25,
      breakerState: 2,
    };
    const collect = vi.fn(() => snapshot);
    const m = new Metrics({ collect, defaultMetrics: false });
    let text = await m.metrics();
    expect(collect).toHaveBeenCalledTimes(1);
    expect(sample(text, 'ternion_queue_depth')).toBe(3);
    expect(sample(text, 'ternion_running_sequences')).toBe(16);
    expect(sample(text, 'ternion_kv_cache_usage_ratio')).toBe(0.5);
    expect(sample(text, 'ternion_prefix_cache_hit_ratio')).toBe(0.25);
    expect(sample(text, 'ternion_circuit_breaker_state')).toBe(2);
    snapshot = { queueDepth: 0, running: 1 };
    text = await m.metrics();
    expect(sample(text, 'ternion_queue_depth')).toBe(0);
    expect(sample(text, 'ternion_running_sequences')).toBe(1);
    expect(sample(text, 'ternion_kv_cache_usage_ratio')).toBe(0.5); // missing field keeps the last value
  });

  it('ternion_preemptions_total follows the engine running total from collect()', async () => {
    let total: number | undefined = 0;
    const m = new Metrics({
      collect: () => (total === undefined ? {} : { preemptions: total }),
      defaultMetrics: false,
    });
    expect(sample(await m.metrics(), 'ternion_preemptions_total')).toBe(0);
    total = 3;
    expect(sample(await m.metrics(), 'ternion_preemptions_total')).toBe(3);
    total = undefined; // not reported this scrape: the counter keeps its value
    expect(sample(await m.metrics(), 'ternion_preemptions_total')).toBe(3);
    total = 7;
    expect(sample(await m.metrics(), 'ternion_preemptions_total')).toBe(7);
    expect((await m.metrics()).match(/# TYPE ternion_preemptions_total counter/)).not.toBeNull();
  });

  it('can drive the breaker gauge without collect', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.setBreakerState('half-open');
    expect(sample(await m.metrics(), 'ternion_circuit_breaker_state')).toBe(1);
  });

  it('adds constant labels and validates collect', async () => {
    const m = new Metrics({ defaultMetrics: false, labels: { model: 'tiny' } });
    m.addPromptTokens(1);
    expect(await m.metrics()).toContain('ternion_prompt_tokens_total{model="tiny"} 1');
    expect(() => new Metrics({ collect: 5 as never })).toThrow(TypeError);
  });
});
