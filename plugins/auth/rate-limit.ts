/**
 * In-memory sliding-window limiter for login attempts. One process owns its counters (SQLite
 * means one writer node anyway); memory is bounded by evicting the oldest keys.
 */
export interface LimitResult {
  allowed: boolean;
  /** Whole seconds until the next attempt would be allowed (when refused). */
  retryAfter: number;
}

export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(opts: { limit: number; windowMs: number; maxKeys?: number; now?: () => number }) {
    this.limit = opts.limit;
    this.windowMs = opts.windowMs;
    this.maxKeys = opts.maxKeys ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Count an attempt for `key` and say whether it may proceed. Refused attempts are not counted. */
  hit(key: string): LimitResult {
    const now = this.now();
    const since = now - this.windowMs;
    const recent = (this.hits.get(key) ?? []).filter((t) => t > since);
    if (recent.length >= this.limit) {
      this.hits.set(key, recent);
      return {
        allowed: false,
        retryAfter: Math.max(1, Math.ceil((recent[0]! + this.windowMs - now) / 1000)),
      };
    }
    recent.push(now);
    // Re-insert so Map order tracks recency; the oldest key is evicted first.
    this.hits.delete(key);
    this.hits.set(key, recent);
    if (this.hits.size > this.maxKeys) this.prune(since);
    return { allowed: true, retryAfter: 0 };
  }

  /** Forget a key (e.g. after a successful login). */
  reset(key: string): void {
    this.hits.delete(key);
  }

  get size(): number {
    return this.hits.size;
  }

  private prune(since: number): void {
    for (const [key, times] of this.hits) {
      if (times.at(-1)! <= since) this.hits.delete(key);
    }
    while (this.hits.size > this.maxKeys) {
      const oldest = this.hits.keys().next().value;
      if (oldest === undefined) break;
      this.hits.delete(oldest);
    }
  }
}
