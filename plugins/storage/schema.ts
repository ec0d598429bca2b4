/**
 * Tables owned by the storage plugin itself. Migrations: `node_modules/.bin/drizzle-kit generate
 * --config plugins/storage/drizzle.config.ts` (or `npm run gen:migrations` for every owner).
 */
import { integer, sqliteTable } from 'drizzle-orm/sqlite-core';

/** One row, rewritten by every readiness check: a write that fails means the database cannot take writes. */
export const health = sqliteTable('__health', {
  id: integer('id').primaryKey(),
  /** Unix milliseconds of the last successful check. */
  checkedAt: integer('checked_at').notNull(),
});
