/** The quota ledger's tables (owner "ledger"). */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const allocations = sqliteTable(
  'allocations',
  {
    id: text('id').primaryKey(),
    resourceId: text('resource_id').notNull(),
    nodeId: text('node_id').notNull(),
    state: text('state', { enum: ['reserved', 'committed', 'released'] }).notNull(),
    cpuMilli: integer('cpu_milli').notNull(),
    memory: integer('memory').notNull(),
    gpu: integer('gpu').notNull(),
    image: text('image').notNull(),
    command: text('command', { mode: 'json' }).$type<string[]>(),
    /**
     * `iarnet-<id>`: unique because the id is. No index of its own (nothing looks a run up by
     * name), so a reservation writes one index page fewer.
     */
    workloadName: text('workload_name').notNull(),
    workloadId: text('workload_id'),
    workloadState: text('workload_state'),
    appId: text('app_id'),
    /** Copies of one replicated workload (a Deployment); cpu/memory/gpu are the total of all of them. */
    replicas: integer('replicas').notNull().default(1),
    owner: text('owner').notNull(),
    createdAt: text('created_at').notNull(),
    committedAt: text('committed_at'),
    releasedAt: text('released_at'),
    releaseReason: text('release_reason'),
    /** Set when the workload was deleted through the API: hidden from listings, kept for audit. */
    removedAt: text('removed_at'),
  },
  (t) => [
    index('allocations_state_idx').on(t.state, t.resourceId),
    // Partial: a reservation has no workload yet, and skipping its NULL entry saves a page write
    // per reservation. Lookups by workload id (=, GLOB prefix) imply NOT NULL and still use it.
    index('allocations_workload_idx').on(t.workloadId).where(sql`${t.workloadId} IS NOT NULL`),
  ],
);

/**
 * Running totals of active (reserved or committed) allocations per resource, kept exact by
 * triggers on `allocations` (migration 0002): admission reads a few rows instead of summing every
 * active allocation, so a reservation costs the same with 10 or 10,000 workloads running.
 * Written only by those triggers.
 */
export const resourceUsage = sqliteTable('resource_usage', {
  resourceId: text('resource_id').primaryKey(),
  cpuMilli: integer('cpu_milli').notNull(),
  memory: integer('memory').notNull(),
  gpu: integer('gpu').notNull(),
  /** Active allocations on the resource. */
  active: integer('active').notNull(),
});

/** Idempotency-Key records for POST /run and deploy: the first result is replayed for repeats. */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    principal: text('principal').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    /** null while the first request is still in progress. */
    status: integer('status'),
    response: text('response'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.principal, t.key] })],
);
