/**
 * Per-sender budgets for incoming peer calls: a token bucket of messages and one of bytes per
 * sender, refilled every gossip interval. An honest peer sends a few messages per interval (one
 * push-pull, sometimes a second push, a leave); one that floods is throttled — its calls are
 * refused with RESOURCE_EXHAUSTED before they are authenticated or applied — while every other
 * sender keeps its own budget. Memory stays bounded: at most `maxSenders` buckets, the least
 * recently used forgotten first.
 */

export interface BudgetLimits {
  /** Messages one sender may send per interval on average. */
  messagesPerInterval: number;
  /** Bytes one sender may send per interval on average. */
  bytesPerInterval: number;
  intervalMs: number;
  /** How many intervals' worth a quiet sender may spend at once. */
  burstIntervals?: number;
  maxSenders?: number;
  now?: () => number;
}

interface Bucket {
  messages: number;
  bytes: number;
  at: number;
}

export type BudgetVerdict = { ok: true } | { ok: false; reason: string };

export class PeerBudget {
  readonly #l: Required<Omit<BudgetLimits, 'now'>>;
  readonly #now: () => number;
  /** Insertion order = recency (a hit re-inserts), so the first key is the least recently used. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(limits: BudgetLimits) {
    this.#l = { burstIntervals: 4, maxSenders: 10_000, ...limits };
    this.#now = limits.now ?? (() => performance.now());
  }

  /** Charge one message of `bytes` to `sender`; refused when its budget is spent (nothing is charged then). */
  take(sender: string, bytes: number): BudgetVerdict {
    const now = this.#now();
    const { messagesPerInterval, bytesPerInterval, intervalMs, burstIntervals } = this.#l;
    const maxMessages = messagesPerInterval * burstIntervals;
    const maxBytes = bytesPerInterval * burstIntervals;
    let b = this.#buckets.get(sender);
    if (b) {
      this.#buckets.delete(sender);
      const intervals = Math.max(0, now - b.at) / intervalMs;
      b.messages = Math.min(maxMessages, b.messages + intervals * messagesPerInterval);
      b.bytes = Math.min(maxBytes, b.bytes + intervals * bytesPerInterval);
      b.at = now;
    } else {
      b = { messages: maxMessages, bytes: maxBytes, at: now };
    }
    this.#buckets.set(sender, b);
    if (this.#buckets.size > this.#l.maxSenders) this.#buckets.delete(this.#buckets.keys().next().value!);
    if (b.messages < 1) {
      return { ok: false, reason: `more than ${messagesPerInterval} messages per ${intervalMs} ms` };
    }
    if (b.bytes < bytes)
      return { ok: false, reason: `more than ${bytesPerInterval} bytes per ${intervalMs} ms` };
    b.messages -= 1;
    b.bytes -= bytes;
    return { ok: true };
  }

  get senders(): number {
    return this.#buckets.size;
  }
}
