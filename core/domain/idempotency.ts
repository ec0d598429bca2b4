/**
 * Idempotency-Key (IETF draft, as Stripe uses it) for POST /run and deploy: a repeated request
 * with the same key and body gets the first successful answer again instead of a second
 * container; the same key with another body is refused (422); a repeat while the first is still
 * running gets 409. Failures are not stored, so a client may retry them with the same key.
 */
import { createHash } from 'node:crypto';
import { and, eq, lt } from 'drizzle-orm';
import { ApiError } from '../kernel/errors.ts';
import type { Storage } from '../slots/storage.ts';
import { idempotencyKeys } from './ledger/schema.ts';

const KEY = /^[\x21-\x7e]{1,255}$/;
const TTL_MS = 24 * 3600_000;

export type IdempotencyStart = { kind: 'new' } | { kind: 'replay'; status: number; body: unknown };

export class IdempotencyStore {
  readonly #storage: Storage;
  constructor(storage: Storage) {
    this.#storage = storage;
  }

  static hash(body: unknown): string {
    return createHash('sha256').update(JSON.stringify(body)).digest('hex');
  }

  static checkKey(key: string): void {
    if (!KEY.test(key)) {
      throw new ApiError(
        400,
        'VALIDATION_FAILED',
        'Invalid request',
        'Idempotency-Key must be 1-255 visible ASCII characters',
        {
          fields: [{ path: 'Idempotency-Key', message: 'invalid key' }],
        },
      );
    }
  }

  begin(principal: string, key: string, requestHash: string): Promise<IdempotencyStart> {
    return this.#storage.transaction(async (db) => {
      await db
        .delete(idempotencyKeys)
        .where(lt(idempotencyKeys.createdAt, new Date(Date.now() - TTL_MS).toISOString()));
      const where = and(eq(idempotencyKeys.principal, principal), eq(idempotencyKeys.key, key));
      const [row] = await db.select().from(idempotencyKeys).where(where);
      if (!row) {
        await db
          .insert(idempotencyKeys)
          .values({ principal, key, requestHash, createdAt: new Date().toISOString() });
        return { kind: 'new' } as const;
      }
      if (row.requestHash !== requestHash) {
        throw new ApiError(
          422,
          'IDEMPOTENCY_KEY_REUSED',
          'Idempotency key reused',
          'This Idempotency-Key was used with a different request body',
        );
      }
      if (row.status === null) {
        throw new ApiError(
          409,
          'IDEMPOTENCY_IN_PROGRESS',
          'Conflict',
          'A request with this Idempotency-Key is still being processed',
        );
      }
      return { kind: 'replay', status: row.status, body: JSON.parse(row.response ?? 'null') } as const;
    });
  }

  async finish(principal: string, key: string, status: number, body: unknown): Promise<void> {
    const where = and(eq(idempotencyKeys.principal, principal), eq(idempotencyKeys.key, key));
    await this.#storage.transaction((db) =>
      status < 300
        ? db
            .update(idempotencyKeys)
            .set({ status, response: JSON.stringify(body) })
            .where(where)
        : db.delete(idempotencyKeys).where(where),
    );
  }
}
