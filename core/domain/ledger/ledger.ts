/**
 * The quota ledger: every workload IARNet starts holds an allocation, reserved before the engine
 * is asked and committed once it runs, released exactly once when it stops, exits or vanishes.
 * Check-and-reserve runs in one `BEGIN IMMEDIATE` transaction, so concurrent requests can never
 * over-commit — neither the node's `resource_limits` nor any resource's capacity.
 */
import { randomFillSync } from 'node:crypto';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { SqlStatement } from '../../runtime/types.ts';
import type { Storage } from '../../slots/storage.ts';
import { type Candidate, freeOf, place, type ShortKind, shortOf } from '../scheduler.ts';
import { allocations } from './schema.ts';
import type { Allocation, LedgerReader, Usage } from './types.ts';

export class QuotaExceededError extends Error {
  override name = 'QuotaExceededError';
  readonly scope: 'node' | 'resource';
  readonly short: ShortKind;
  readonly tried: string[];
  constructor(scope: 'node' | 'resource', short: ShortKind, tried: string[] = []) {
    super(`Insufficient ${short} resources`);
    this.scope = scope;
    this.short = short;
    this.tried = tried;
  }
}

export interface ReserveRequest extends Usage {
  image: string;
  command?: string[];
  owner: string;
  appId?: string;
  /** Copies of a replicated workload; the quantities are already their total. */
  replicas?: number;
  /** Only this resource (refused with the reason when it has no room). */
  resourceId?: string;
  /** Resources that may take the run, with their effective capacity. */
  candidates: Omit<Candidate, 'used'>[];
}

type Row = typeof allocations.$inferSelect;

function toAllocation(r: Row): Allocation {
  return {
    id: r.id,
    resourceId: r.resourceId,
    nodeId: r.nodeId,
    state: r.state,
    cpuMilli: r.cpuMilli,
    memory: r.memory,
    gpu: r.gpu,
    image: r.image,
    ...(r.command ? { command: r.command } : {}),
    workloadName: r.workloadName,
    ...(r.workloadId ? { workloadId: r.workloadId } : {}),
    ...(r.workloadState ? { workloadState: r.workloadState } : {}),
    ...(r.appId ? { appId: r.appId } : {}),
    ...(r.replicas > 1 ? { replicas: r.replicas } : {}),
    owner: r.owner,
    createdAt: r.createdAt,
    ...(r.committedAt ? { committedAt: r.committedAt } : {}),
    ...(r.releasedAt ? { releasedAt: r.releasedAt } : {}),
    ...(r.releaseReason ? { releaseReason: r.releaseReason } : {}),
    ...(r.removedAt ? { removedAt: r.removedAt } : {}),
  };
}

// IN, not `<> 'released'`: SQLite cannot use an index for <>, so that scanned every allocation
// ever made (released ones included) on each reserve; IN seeks allocations_state_idx (bench/admission.ts).
const ACTIVE = inArray(allocations.state, ['reserved', 'committed']);
/**
 * Allocation ids: `a`, the creation time (ms, 11 hex digits), then a 48-bit sequence that starts
 * at a random value (CSPRNG) each millisecond and counts up within it. Ids thus sort by creation,
 * so the primary-key index only ever grows at its end: with random ids each reservation wrote
 * into a random leaf of it, and splitting those leaves was most of a reservation's p99 beyond
 * SQLite's own floor (bench/admission.ts). Within this process no two ids are equal; across
 * processes (another node, a restart in the same millisecond) 48 random bits keep a clash
 * practically impossible. The random bytes come 4 KiB at a time (one native call per 680 ids).
 */
const ID_POOL = Buffer.alloc(4096);
let idPoolAt = ID_POOL.length;
let idMs = 0;
let idSequence = 0;
export const newAllocationId = () => {
  const now = Date.now();
  if (now !== idMs) {
    if (idPoolAt + 6 > ID_POOL.length) {
      randomFillSync(ID_POOL);
      idPoolAt = 0;
    }
    idMs = now;
    // Below 2^47, so counting up within one millisecond never carries past 48 bits.
    idSequence = ID_POOL.readUIntBE(idPoolAt, 6) % 2 ** 47;
    idPoolAt += 6;
  } else {
    idSequence++;
  }
  return `a${now.toString(16).padStart(11, '0')}${idSequence.toString(16).padStart(12, '0')}`;
};
export const workloadNameFor = (id: string) => `iarnet-${id}`;

/**
 * The hot statements of admission, as raw SQL prepared once on the connection and run inside
 * storage.transactionSync(): through Drizzle each call rebuilt its parameters and row objects and
 * cost a promise per statement — together about as much as SQLite's own work (bench/admission.ts).
 * The columns are schema.ts's; the ledger tests read every row back through Drizzle.
 */
function prepareStatements(storage: Storage) {
  return {
    // Totals kept by triggers (migration 0002): a handful of rows, whatever the number of workloads.
    usage: storage.prepare(
      'SELECT resource_id AS resourceId, cpu_milli AS cpuMilli, memory, gpu FROM resource_usage WHERE active > 0',
    ),
    insert: storage.prepare(
      'INSERT INTO allocations (id, resource_id, node_id, state, cpu_milli, memory, gpu, image, command, ' +
        "workload_name, app_id, replicas, owner, created_at) VALUES (?, ?, ?, 'reserved', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    // changes() counts this statement's own row only (not the usage triggers'): 1 = it moved.
    commit: storage.prepare(
      "UPDATE allocations SET state = 'committed', workload_id = ?, workload_state = ?, committed_at = ? " +
        "WHERE id = ? AND state = 'reserved'",
    ),
    // A stopped container started again: back into the active set (the usage triggers add it).
    reactivate: storage.prepare(
      "UPDATE allocations SET state = 'reserved', released_at = NULL, release_reason = NULL, workload_state = 'starting' " +
        "WHERE id = ? AND state = 'released' AND removed_at IS NULL",
    ),
    // IN, not <> 'released': the active states, as ACTIVE above.
    release: storage.prepare(
      "UPDATE allocations SET state = 'released', released_at = ?, release_reason = ?, " +
        'workload_state = coalesce(?, workload_state), removed_at = coalesce(?, removed_at) ' +
        "WHERE id = ? AND state IN ('reserved', 'committed')",
    ),
  } satisfies Record<string, SqlStatement>;
}

interface UsageRow {
  resourceId: string;
  cpuMilli: number;
  memory: number;
  gpu: number;
}

export class QuotaLedger implements LedgerReader {
  readonly #storage: Storage;
  readonly #nodeId: string;
  #limits: Usage;
  #statements: ReturnType<typeof prepareStatements> | undefined;

  constructor(storage: Storage, nodeId: string, limits: Usage) {
    this.#storage = storage;
    this.#nodeId = nodeId;
    this.#limits = limits;
  }

  /** Prepared on first use: SQLite checks the tables at prepare time, and they may not exist yet. */
  get #q(): ReturnType<typeof prepareStatements> {
    this.#statements ??= prepareStatements(this.#storage);
    return this.#statements;
  }

  get limits(): Usage {
    return this.#limits;
  }

  /**
   * Active usage per resource, from the trigger-maintained totals. (Every write goes through
   * storage.transaction on the one shared connection, so the prepared statement also reads
   * inside a running transaction.)
   */
  async usageByResource(): Promise<Map<string, Usage>> {
    const rows = this.#q.usage.all() as unknown as UsageRow[];
    return new Map(rows.map((r) => [r.resourceId, { cpuMilli: r.cpuMilli, memory: r.memory, gpu: r.gpu }]));
  }

  async usage(): Promise<Usage> {
    const total = { cpuMilli: 0, memory: 0, gpu: 0 };
    for (const u of (await this.usageByResource()).values()) {
      total.cpuMilli += u.cpuMilli;
      total.memory += u.memory;
      total.gpu += u.gpu;
    }
    return total;
  }

  /**
   * Place and reserve in one transaction: node limits first (the design document's check),
   * then a resource with room. Throws QuotaExceededError naming the short resource.
   * The whole check-and-insert is synchronous inside BEGIN IMMEDIATE (storage.transactionSync), so
   * no other write can come between the read of the totals and the insert.
   */
  reserve(req: ReserveRequest): Promise<Allocation> {
    return this.#storage.transactionSync(() => this.#reserveNow(req));
  }

  /**
   * The admission check, inside a transaction: node limits first (the design document's check),
   * then the resource among `candidates` with room. Returns where `need` goes; throws
   * QuotaExceededError naming the short resource.
   */
  #admit(need: Usage, offered: Omit<Candidate, 'used'>[]): Omit<Candidate, 'used'> {
    const rows = this.#q.usage.all() as unknown as UsageRow[];
    const nodeUsed = { cpuMilli: 0, memory: 0, gpu: 0 };
    for (const u of rows) {
      nodeUsed.cpuMilli += u.cpuMilli;
      nodeUsed.memory += u.memory;
      nodeUsed.gpu += u.gpu;
    }
    const nodeShort = shortOf(need, freeOf(this.#limits, nodeUsed));
    if (nodeShort) throw new QuotaExceededError('node', nodeShort);

    const zero = { cpuMilli: 0, memory: 0, gpu: 0 };
    const candidates: Candidate[] = offered.map((c) => {
      const used = rows.find((r) => r.resourceId === c.id);
      return { ...c, used: used ? { cpuMilli: used.cpuMilli, memory: used.memory, gpu: used.gpu } : zero };
    });
    const placement = place(need, candidates);
    if (!placement.ok) throw new QuotaExceededError('resource', placement.short, placement.tried);
    return placement.candidate;
  }

  #reserveNow(req: ReserveRequest): Allocation {
    const need: Usage = { cpuMilli: req.cpuMilli, memory: req.memory, gpu: req.gpu };
    const target = this.#admit(
      need,
      req.resourceId ? req.candidates.filter((c) => c.id === req.resourceId) : req.candidates,
    );

    const id = newAllocationId();
    const replicas = req.replicas ?? 1;
    const allocation: Allocation = {
      id,
      resourceId: target.id,
      nodeId: this.#nodeId,
      state: 'reserved',
      ...need,
      image: req.image,
      workloadName: workloadNameFor(id),
      owner: req.owner,
      createdAt: new Date().toISOString(),
    };
    // The same optional fields toAllocation() gives a row read back.
    if (req.command) allocation.command = req.command;
    if (req.appId) allocation.appId = req.appId;
    if (replicas > 1) allocation.replicas = replicas;
    this.#q.insert.run(
      id,
      allocation.resourceId,
      this.#nodeId,
      need.cpuMilli,
      need.memory,
      need.gpu,
      req.image,
      // The command column is JSON text (schema.ts); NULL when absent, as before.
      req.command ? JSON.stringify(req.command) : null,
      allocation.workloadName,
      req.appId ?? null,
      replicas,
      req.owner,
      allocation.createdAt,
    );
    return allocation;
  }

  /**
   * Book a released allocation again on its own resource, if it fits there now (a stopped container
   * started again): the same checks as reserve(), node limits first, in one transaction. false when
   * it is no longer released (someone else started it, or it was deleted). Throws
   * QuotaExceededError naming the short resource.
   */
  reactivate(a: Allocation, resource: Omit<Candidate, 'used'>): Promise<boolean> {
    const need: Usage = { cpuMilli: a.cpuMilli, memory: a.memory, gpu: a.gpu };
    return this.#storage.transactionSync(() => {
      this.#admit(need, [resource]);
      return this.#q.reactivate.run(a.id).changes === 1;
    });
  }

  /** The workload runs: record its engine id. A released allocation stays released. */
  commit(
    id: string,
    workloadId: string,
    workloadState = 'running',
    at = new Date().toISOString(),
  ): Promise<boolean> {
    return this.#storage.transactionSync(
      () => this.#q.commit.run(workloadId, workloadState, at, id).changes === 1,
    );
  }

  /**
   * Release exactly once: true only for the call that released it. With `removed`, the same
   * write also marks the workload deleted (markRemoved), so no reader ever sees it released but
   * still listed.
   */
  release(
    id: string,
    reason: string,
    workloadState?: string,
    opts: { removed?: boolean } = {},
  ): Promise<boolean> {
    const at = new Date().toISOString();
    return this.#storage.transactionSync(
      () =>
        this.#q.release.run(at, reason, workloadState ?? null, opts.removed ? at : null, id).changes === 1,
    );
  }

  /** Adopt a workload found on an engine with no active allocation (after a crash or data loss). */
  async adopt(a: Omit<Allocation, 'state' | 'createdAt' | 'nodeId'> & { nodeId?: string }): Promise<void> {
    const now = new Date().toISOString();
    await this.#storage.transaction(async (db) => {
      const existing = await db.select().from(allocations).where(eq(allocations.id, a.id));
      if (existing.length) {
        await db
          .update(allocations)
          .set({
            state: 'committed',
            workloadId: a.workloadId,
            workloadState: a.workloadState,
            releasedAt: null,
            releaseReason: null,
            committedAt: now,
          })
          .where(eq(allocations.id, a.id));
      } else {
        await db.insert(allocations).values({
          ...a,
          nodeId: a.nodeId ?? this.#nodeId,
          command: a.command ?? null,
          state: 'committed',
          createdAt: now,
          committedAt: now,
        });
      }
    });
  }

  async setWorkloadState(id: string, workloadState: string): Promise<void> {
    await this.#storage.transaction((db) =>
      db.update(allocations).set({ workloadState }).where(eq(allocations.id, id)),
    );
  }

  async markRemoved(id: string): Promise<void> {
    await this.#storage.transaction((db) =>
      db.update(allocations).set({ removedAt: new Date().toISOString() }).where(eq(allocations.id, id)),
    );
  }

  async get(id: string): Promise<Allocation | undefined> {
    const rows = await this.#storage.db.select().from(allocations).where(eq(allocations.id, id));
    return rows[0] ? toAllocation(rows[0]) : undefined;
  }

  /** By allocation id, full workload id, or a workload id prefix of at least 12 characters. */
  async find(ref: string): Promise<Allocation | undefined> {
    const byId = await this.get(ref);
    if (byId) return byId.removedAt ? undefined : byId;
    if (!/^[0-9a-f]{12,64}$/.test(ref)) return undefined;
    const rows = await this.#storage.db
      .select()
      .from(allocations)
      // GLOB, not LIKE: case-sensitive, so SQLite turns the prefix into a range on the workload
      // index (LIKE scanned the table). `ref` is hex only, so it holds no GLOB wildcard.
      .where(and(sql`${allocations.workloadId} glob ${`${ref}*`}`, isNull(allocations.removedAt)));
    return rows.length === 1 ? toAllocation(rows[0]!) : undefined;
  }

  async active(resourceIds?: string[]): Promise<Allocation[]> {
    const where = resourceIds ? and(ACTIVE, inArray(allocations.resourceId, resourceIds)) : ACTIVE;
    return (await this.#storage.db.select().from(allocations).where(where)).map(toAllocation);
  }

  activeOn(resourceId: string): Promise<Allocation[]> {
    return this.active([resourceId]);
  }

  /** Allocations not deleted through the API (active ones and released ones whose workload remains). */
  async visible(): Promise<Allocation[]> {
    const rows = await this.#storage.db.select().from(allocations).where(isNull(allocations.removedAt));
    return rows.map(toAllocation);
  }
}
