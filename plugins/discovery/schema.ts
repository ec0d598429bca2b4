/**
 * Tables owned by the discovery plugin. Migrations: `node_modules/.bin/drizzle-kit generate
 * --config plugins/discovery/drizzle.config.ts`. Times are Unix milliseconds.
 */
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Runs this node placed on peers (the 'run:overflow' hook): the origin's record of where they
 * went, so its container list and /status show them with their node. The peer's own ledger
 * books them; this table books nothing.
 */
export const remoteRuns = sqliteTable(
  'discovery_remote_runs',
  {
    /** The allocation id on the peer. */
    allocationId: text('allocation_id').primaryKey(),
    nodeId: text('node_id').notNull(),
    containerId: text('container_id').notNull(),
    resourceId: text('resource_id').notNull(),
    image: text('image').notNull(),
    /** JSON array, or null. */
    command: text('command'),
    cpuMilli: integer('cpu_milli').notNull(),
    memory: integer('memory').notNull(),
    gpu: integer('gpu').notNull(),
    /** Who asked (principal id on this node). */
    owner: text('owner').notNull(),
    createdAt: integer('created_at').notNull(),
    /** When this node stopped it on the peer (StopRun); null while it runs. */
    stoppedAt: integer('stopped_at'),
  },
  (t) => [index('discovery_remote_runs_created').on(t.createdAt)],
);

export type RemoteRunRow = typeof remoteRuns.$inferSelect;
