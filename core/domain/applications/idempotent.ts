/**
 * Idempotency-Key on deploy and redeploy (as on POST /run): a retried call with the same key gets
 * the first successful answer again (header Idempotent-Replayed) instead of a 409 or a second set
 * of instances; the same key for another operation or application is a 422. Keys live in the
 * platform's store, so they only apply when the platform is loaded.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../../kernel/plugin.ts';
import { IdempotencyStore } from '../idempotency.ts';
import type { ApplicationOut } from './model.ts';

export async function idempotent(
  c: Context<AppEnv>,
  store: IdempotencyStore | undefined,
  operation: { deploy: string } | { redeploy: string },
  fn: () => Promise<ApplicationOut>,
): Promise<Response> {
  const key = c.req.header('idempotency-key');
  if (key === undefined || !store) return c.json(await fn(), 200);
  IdempotencyStore.checkKey(key);
  const principal = c.get('principal');
  const start = await store.begin(principal.id, key, IdempotencyStore.hash(operation));
  if (start.kind === 'replay') {
    c.header('Idempotent-Replayed', 'true');
    return c.json(start.body as ApplicationOut, 200);
  }
  try {
    const out = await fn();
    await store.finish(principal.id, key, 200, out);
    return c.json(out, 200);
  } catch (err) {
    await store.finish(principal.id, key, 500, null);
    throw err;
  }
}
