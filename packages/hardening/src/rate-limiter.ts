export interface RateLimiterOptions {
  /** Requests per minute per key; omit for no request limit. */
  requestsPerMinute?: number;
  /** Prompt + generated tokens per minute per key; omit for no token limit. */
  tokensPerMinute?: number;
  /** Most keys tracked at once (default 10 000); beyond it the least recently seen key is forgotten. */
  maxKeys?: number;
  /** Clock in milliseconds (default `Date.now`); inject a fake one in tests. */
  now?: () => number;
}

export type RateLimitResult = { ok: true } | { ok: false; retryAfterSeconds: number; reason: string };

interface Bucket {
  /** Requests available now (fractional while refilling). */
  requests: number;
  /** Tokens available now; negative while a key is in debt after `chargeTokens`. */
  tokens: number;
  /** Clock reading (ms) the two balances above were computed at. */
  updatedAt: number;
}

const MINUTE_MS = 60_000;
/** Oldest entries inspected for idle eviction on every call: O(1) work, and the map drains as keys go idle. */
const EVICTION_SCAN = 2;

/**
 * Per-key token buckets, one for requests and one for LLM tokens, each holding up to one minute of budget and
 * refilling continuously at `limit / 60 s`.
 *
 * Why token buckets rather than a sliding window: a bucket is two numbers per key (a sliding-window log is one
 * entry per request or token), it allows a burst of up to a minute's budget and then a steady rate, and the
 * exact `Retry-After` is a division: (needed − available) / refill rate.
 *
 * Token semantics (the count is known only in pieces): `tryTokens(key, promptTokens)` after tokenization takes
 * the prompt up front and refuses (429) when the bucket cannot cover it; a prompt larger than the whole
 * per-minute budget is let through only when the bucket is full, and drives it negative. `chargeTokens(key,
 * n)` debits generated tokens as they stream and never refuses (the response is already under way), so a key
 * can go into debt. `tryRequest` refuses a key whose token balance is below one token, so debt is paid back
 * before the key's next request starts.
 *
 * Memory is bounded: buckets that have refilled completely are indistinguishable from new ones and are
 * dropped as they age out (a few oldest entries are checked per call), and at most `maxKeys` are held.
 */
export class RateLimiter {
  readonly requestsPerMinute: number | undefined;
  readonly tokensPerMinute: number | undefined;
  readonly maxKeys: number;
  private readonly clock: () => number;
  /** Insertion order = least recently used first (an entry is re-inserted on every use). */
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: RateLimiterOptions = {}) {
    this.requestsPerMinute = optionalPositive(options.requestsPerMinute, 'requestsPerMinute');
    this.tokensPerMinute = optionalPositive(options.tokensPerMinute, 'tokensPerMinute');
    this.maxKeys = options.maxKeys ?? 10_000;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1) {
      throw new RangeError(
        `RateLimiter: options.maxKeys must be a positive integer, got ${String(options.maxKeys)}`,
      );
    }
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new TypeError('RateLimiter: options.now must be a function returning milliseconds');
    }
    this.clock = options.now ?? Date.now;
  }

  /** True when at least one limit is configured. */
  get enabled(): boolean {
    return this.requestsPerMinute !== undefined || this.tokensPerMinute !== undefined;
  }

  /** Keys currently tracked (bounded by `maxKeys`). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one request from `keyId`'s budget, or says how long to wait. */
  tryRequest(keyId: string, now: number = this.clock()): RateLimitResult {
    const bucket = this.bucketFor(keyId, now);
    if (this.tokensPerMinute !== undefined && bucket.tokens < 1) {
      return refuse(
        1 - bucket.tokens,
        this.tokensPerMinute,
        `token limit (${this.tokensPerMinute} tokens/min)`,
      );
    }
    if (this.requestsPerMinute !== undefined) {
      if (bucket.requests < 1) {
        return refuse(
          1 - bucket.requests,
          this.requestsPerMinute,
          `request limit (${this.requestsPerMinute} requests/min)`,
        );
      }
      bucket.requests -= 1;
    }
    return { ok: true };
  }

  /** Takes `n` tokens (the prompt) if the budget covers them; see the class comment for oversized prompts. */
  tryTokens(keyId: string, n: number, now: number = this.clock()): RateLimitResult {
    checkCount(n);
    const limit = this.tokensPerMinute;
    if (limit === undefined) return { ok: true };
    const bucket = this.bucketFor(keyId, now);
    const needed = Math.min(n, limit);
    if (bucket.tokens < needed) {
      return refuse(needed - bucket.tokens, limit, `token limit (${limit} tokens/min)`);
    }
    bucket.tokens -= n;
    return { ok: true };
  }

  /** Debits `n` tokens (generated output) unconditionally; the balance may go negative. */
  chargeTokens(keyId: string, n: number, now: number = this.clock()): void {
    checkCount(n);
    if (this.tokensPerMinute === undefined) return;
    this.bucketFor(keyId, now).tokens -= n;
  }

  /** Forgets every key (e.g. after a config reload). */
  clear(): void {
    this.buckets.clear();
  }

  private bucketFor(keyId: string, now: number): Bucket {
    if (typeof keyId !== 'string' || keyId === '')
      throw new TypeError('RateLimiter: keyId must be a non-empty string');
    if (!Number.isFinite(now))
      throw new TypeError(`RateLimiter: now must be a finite number of ms, got ${now}`);
    let bucket = this.buckets.get(keyId);
    if (bucket === undefined) {
      bucket = { requests: this.requestsPerMinute ?? 0, tokens: this.tokensPerMinute ?? 0, updatedAt: now };
    } else {
      this.buckets.delete(keyId);
      this.refill(bucket, now);
    }
    this.evictIdle(now);
    this.buckets.set(keyId, bucket);
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return bucket;
  }

  private refill(bucket: Bucket, now: number): void {
    // A clock that steps backwards (NTP) must not drain buckets: elapsed is clamped at 0.
    const elapsed = Math.max(0, now - bucket.updatedAt);
    if (this.requestsPerMinute !== undefined) {
      const rpm = this.requestsPerMinute;
      bucket.requests = Math.min(rpm, bucket.requests + (elapsed * rpm) / MINUTE_MS);
    }
    if (this.tokensPerMinute !== undefined) {
      const tpm = this.tokensPerMinute;
      bucket.tokens = Math.min(tpm, bucket.tokens + (elapsed * tpm) / MINUTE_MS);
    }
    bucket.updatedAt = Math.max(bucket.updatedAt, now);
  }

  private evictIdle(now: number): void {
    let scanned = 0;
    for (const [key, bucket] of this.buckets) {
      if (scanned++ === EVICTION_SCAN) break;
      this.refill(bucket, now);
      const requestsFull = this.requestsPerMinute === undefined || bucket.requests >= this.requestsPerMinute;
      const tokensFull = this.tokensPerMinute === undefined || bucket.tokens >= this.tokensPerMinute;
      if (!requestsFull || !tokensFull) break;
      this.buckets.delete(key);
    }
  }
}

function refuse(deficit: number, perMinute: number, what: string): RateLimitResult {
  const seconds = (deficit * 60) / perMinute;
  // Whole seconds, rounded up: Retry-After has 1 s resolution and retrying early would only be refused again.
  const retryAfterSeconds = Math.max(1, Math.ceil(seconds - 1e-9));
  return {
    ok: false,
    retryAfterSeconds,
    reason: `Rate limit reached: ${what}. Retry after ${retryAfterSeconds} s.`,
  };
}

function optionalPositive(value: number | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  // Below 1 the bucket could never hold one whole request or token, so nothing would ever pass.
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
    throw new RangeError(`RateLimiter: options.${name} must be a number >= 1, got ${String(value)}`);
  }
  return value;
}

function checkCount(n: number): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new RangeError(`RateLimiter: n must be a non-negative integer token count, got ${String(n)}`);
  }
}
