/**
 * Picks the adapter for the runtime this process runs on. Adapters are imported on demand, so a
 * runtime never loads another's modules (Deno never touches better-sqlite3, Node never hono/bun).
 */
import { getRuntimeKey } from 'hono/adapter';
import type { Runtime } from './types.ts';

export type { Runtime } from './types.ts';

export async function loadRuntime(): Promise<Runtime> {
  const key = getRuntimeKey();
  switch (key) {
    case 'node':
      return (await import('./node.ts')).createRuntime();
    case 'bun':
      return (await import('./bun.ts')).createRuntime();
    case 'deno':
      return (await import('./deno.ts')).createRuntime();
    default:
      throw new Error(`IARNet runs on Node, Bun or Deno; this runtime identifies as "${key}"`);
  }
}
