/**
 * Message authentication between peers: HMAC-SHA256 with the cluster secret over the message's
 * protobuf encoding (auth field cleared), a timestamp and a random nonce. Answers also bind the
 * request's nonce, so a recorded answer cannot be replayed to another request. Stale timestamps
 * and nonces seen before are refused.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface AuthFields {
  timestamp_ms: number;
  nonce: Buffer;
  hmac: Buffer;
}

export class AuthError extends Error {
  override name = 'AuthError';
}

export class MessageAuth {
  readonly #key: Buffer;
  readonly #skewMs: number;
  readonly #now: () => number;
  /** nonce (hex) → expiry; bounded, oldest evicted first. */
  readonly #seen = new Map<string, number>();
  readonly #maxSeen: number;

  constructor(secret: string, opts: { maxClockSkewMs: number; now?: () => number; maxNonces?: number }) {
    // Domain-separate the key so the same secret used elsewhere never yields the same MACs.
    this.#key = createHmac('sha256', 'iarnet-gossip-v1').update(secret).digest();
    this.#skewMs = opts.maxClockSkewMs;
    this.#now = opts.now ?? Date.now;
    this.#maxSeen = opts.maxNonces ?? 100_000;
  }

  sign(label: string, body: Uint8Array, requestNonce?: Buffer): AuthFields {
    const timestamp_ms = this.#now();
    const nonce = randomBytes(16);
    return { timestamp_ms, nonce, hmac: this.#mac(label, body, timestamp_ms, nonce, requestNonce) };
  }

  /** Throws AuthError unless the fields authenticate `body` and are fresh and unseen. */
  verify(
    label: string,
    body: Uint8Array,
    auth: { timestamp_ms: number; nonce: Buffer; hmac: Buffer } | null | undefined,
    requestNonce?: Buffer,
  ): void {
    if (!auth?.hmac?.length || !auth.nonce?.length) throw new AuthError('message is not signed');
    if (auth.nonce.length !== 16) throw new AuthError('bad nonce');
    const expected = this.#mac(label, body, Number(auth.timestamp_ms), auth.nonce, requestNonce);
    if (auth.hmac.length !== expected.length || !timingSafeEqual(auth.hmac, expected)) {
      throw new AuthError('bad signature (wrong cluster secret?)');
    }
    const now = this.#now();
    const ts = Number(auth.timestamp_ms);
    if (Math.abs(now - ts) > this.#skewMs) throw new AuthError('stale timestamp');
    const key = auth.nonce.toString('hex');
    this.#expire(now);
    if (this.#seen.has(key)) throw new AuthError('replayed message');
    this.#seen.set(key, ts + this.#skewMs);
    if (this.#seen.size > this.#maxSeen) this.#seen.delete(this.#seen.keys().next().value!);
  }

  #expire(now: number): void {
    // Map keeps insertion order; entries arrive roughly in time order, so stop at the first live one.
    for (const [k, exp] of this.#seen) {
      if (exp >= now) break;
      this.#seen.delete(k);
    }
  }

  #mac(label: string, body: Uint8Array, ts: number, nonce: Buffer, requestNonce?: Buffer): Buffer {
    const h = createHmac('sha256', this.#key);
    h.update(`${label}\n${ts}\n`);
    h.update(nonce);
    h.update(requestNonce ?? Buffer.alloc(0));
    h.update(body);
    return h.digest();
  }
}
