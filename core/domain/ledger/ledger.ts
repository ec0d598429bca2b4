/**
 * The quota ledger: every workload IARNet starts holds an allocation, reserved before the engine
 * is asked and committed once it runs, released exactly once when it stops, exits or vanishes.
 * Check-and-reserve runs in one `BEGIN IMMEDIATE` transaction, so concurrent requests can never
 * over-commit — neither the node's `resource_limits` nor any resource's capacity.
 */
import { randomBytes } from 'node:crypto';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Storage } from '../../slots/storage.ts';
import { type Candidate, freeOf, place, type ShortKind, shortOf } from '../scheduler.ts';
import { allocations, resourceUsage } from './schema.ts';
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
export const newAllocationId = () => `a${randomBytes(8).toString('hex')}`;
export const workloadNameFor = (id: string) => `iarnet-${id}`;

/**
 * The hot statements, built and prepared once: Drizzle otherwise rebuilds the SQL and SQLite
 * re-prepares it on every call (~70-100 µs each here, against ~2 µs prepared; bench/admission.ts).
 */
function prepareStatements(db: Storage['db']) {
  return {
    // Totals kept by triggers (migration 0002): a handful of rows, whatever the number of workloads.
    usage: db
      .select({
        resourceId: resourceUsage.resourceId,
        cpuMilli: resourceUsage.cpuMilli,
        memory: resourceUsage.memory,
        gpu: resourceUsage.gpu,
      })
      .from(resourceUsage)
      .where(sql`${resourceUsage.active} > 0`)
      .prepare(),
    insert: db
      .insert(allocations)
      .values({
        id: sql.placeholder('id'),
        resourceId: sql.placeholder('resourceId'),
        nodeId: sql.placeholder('nodeId'),
        state: 'reserved',
        cpuMilli: sql.placeholder('cpuMilli'),
        memory: sql.placeholder('memory'),
        gpu: sql.placeholder('gpu'),
        image: sql.placeholder('image'),
        // Raw, not through the column's JSON encoder, which would store null as the text 'null'.
        command: sql`${sql.placeholder('command')}`,
        workloadName: sql.placeholder('workloadName'),
        appId: sql.placeholder('appId'),
        replicas: sql.placeholder('replicas'),
        owner: sql.placeholder('owner'),
        createdAt: sql.placeholder('createdAt'),
      })
      .prepare(),
    commit: db
      .update(allocations)
      .set({
        state: 'committed',
        workloadId: sql`${sql.placeholder('workloadId')}`,
        workloadState: sql`${sql.placeholder('workloadState')}`,
        committedAt: sql`${sql.placeholder('at')}`,
      })
      .where(and(eq(allocations.id, sql.placeholder('id')), eq(allocations.state, 'reserved')))
      .returning({ id: allocations.id })
      .prepare(),
    release: db
      .update(allocations)
      .set({
        state: 'released',
        releasedAt: sql`${sql.placeholder('at')}`,
        releaseReason: sql`${sql.placeholder('reason')}`,
        workloadState: sql`coalesce(${sql.placeholder('workloadState')}, ${allocations.workloadState})`,
      })
      .where(and(eq(allocations.id, sql.placeholder('id')), ACTIVE))
      .returning({ id: allocations.id })
      .prepare(),
  };
}

export class QuotaLedger implements LedgerReader {
  readonly #storage: Storage;
  readonly #nodeId: string;
  #limits: Usage;
  readonly #q: ReturnType<typeof prepareStatements>;

  constructor(storage: Storage, nodeId: string, limits: Usage) {
    this.#storage = storage;
    this.#nodeId = nodeId;
    this.#limits = limits;
    this.#q = prepareStatements(storage.db);
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
    const rows = (await this.#q.usage.all()) as ({ resourceId: string } & Usage)[];
    return new Map(
      rows.map((r: { resourceId: string } & Usage) => [
        r.resourceId,
        { cpuMilli: r.cpuMilli, memory: r.memory, gpu: r.gpu },
      ]),
    );
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
   */
  reserve(req: ReserveRequest): Promise<Allocation> {
    const need: Usage = { cpuMilli: req.cpuMilli, memory: req.memory, gpu: req.gpu };
    return this.#storage.transaction(async () => {
      const byResource = await this.usageByResource();
      const nodeUsed = [...byResource.values()].reduce(
        (a, u) => ({ cpuMilli: a.cpuMilli + u.cpuMilli, memory: a.memory + u.memory, gpu: a.gpu + u.gpu }),
        { cpuMilli: 0, memory: 0, gpu: 0 },
      );
      const nodeShort = shortOf(need, freeOf(this.#limits, nodeUsed));
      if (nodeShort) throw new QuotaExceededError('node', nodeShort);

      const zero = { cpuMilli: 0, memory: 0, gpu: 0 };
      const candidates = req.candidates
        .filter((c) => !req.resourceId || c.id === req.resourceId)
        .map((c) => ({ ...c, used: byResource.get(c.id) ?? zero }));
      const placement = place(need, candidates);
      if (!placement.ok) throw new QuotaExceededError('resource', placement.short, placement.tried);

      const id = newAllocationId();
      const row = {
        id,
        resourceId: placement.candidate.id,
        nodeId: this.#nodeId,
        state: 'reserved' as const,
        ...need,
        image: req.image,
        command: req.command ?? null,
        workloadName: workloadNameFor(id),
        appId: req.appId ?? null,
        replicas: req.replicas ?? 1,
        owner: req.owner,
        createdAt: new Date().toISOString(),
      };
      // The command column is JSON: the prepared statement takes it already encoded.
      await this.#q.insert.run({ ...row, command: row.command ? JSON.stringify(row.command) : null });
      return toAllocation(row as Row);
    });
  }

  /** The workload runs: record its engine id. A released allocation stays released. */
  async commit(
    id: string,
    workloadId: string,
    workloadState = 'running',
    at = new Date().toISOString(),
  ): Promise<boolean> {
    const result = await this.#storage.transaction(async () =>
      this.#q.commit.all({ id, workloadId, workloadState, at }),
    );
    return (result as unknown[]).length === 1;
  }

  /** Release exactly once: true only for the call that released it. */
  async release(id: string, reason: string, workloadState?: string): Promise<boolean> {
    const result = await this.#storage.transaction(async () =>
      this.#q.release.all({ id, reason, workloadState: workloadState ?? null, at: new Date().toISOString() }),
    );
    return (result as unknown[]).length === 1;
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
      .where(and(sql`${allocations.workloadId} like ${`${ref}%`}`, isNull(allocations.removedAt)));
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
