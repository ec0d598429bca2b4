/**
 * The origin's record of runs it placed on peers (table discovery_remote_runs), read by the
 * 'containers:remote' hook so GET /api/containers and /status list them with their node. Bounded:
 * the oldest records beyond `max` are dropped.
 */
import { desc, eq, lt, sql } from 'drizzle-orm';
import type { RemoteContainer, RemotePlacement, RunRequest } from '../../core/domain/runs.ts';
import type { Storage } from '../../core/slots/storage.ts';
import { type RemoteRunRow, remoteRuns } from './schema.ts';

export class RemoteRuns {
  readonly #storage: Storage;
  readonly #max: number;

  constructor(storage: Storage, opts: { max?: number } = {}) {
    this.#storage = storage;
    this.#max = opts.max ?? 1000;
  }

  async record(p: RemotePlacement, req: RunRequest, owner: string, now = Date.now()): Promise<void> {
    await this.#storage.transaction(async (db) => {
      await db
        .insert(remoteRuns)
        .values({
          allocationId: p.allocationId,
          nodeId: p.nodeId,
          containerId: p.containerId,
          resourceId: p.resourceId,
          image: req.image,
          command: req.command ? JSON.stringify(req.command) : null,
          cpuMilli: req.cpuMilli,
          memory: req.memory,
          gpu: req.gpu,
          owner,
          createdAt: now,
        })
        .onConflictDoNothing();
      const [cut] = await db
        .select({ createdAt: remoteRuns.createdAt })
        .from(remoteRuns)
        .orderBy(desc(remoteRuns.createdAt))
        .limit(1)
        .offset(this.#max);
      if (cut) await db.delete(remoteRuns).where(lt(remoteRuns.createdAt, cut.createdAt + 1));
    });
  }

  async list(): Promise<RemoteContainer[]> {
    const rows = await this.#storage.db.select().from(remoteRuns).orderBy(desc(remoteRuns.createdAt));
    return rows.map(toRemote);
  }

  /** The run placed from here with this container id (or a 12+ character prefix) or allocation id. */
  async find(ref: string): Promise<RemoteContainer | undefined> {
    const [byAlloc] = await this.#storage.db
      .select()
      .from(remoteRuns)
      .where(eq(remoteRuns.allocationId, ref));
    if (byAlloc) return toRemote(byAlloc);
    if (ref.length < 12) return undefined;
    const rows = await this.#storage.db
      .select()
      .from(remoteRuns)
      .where(sql`${remoteRuns.containerId} like ${`${ref.replace(/[%_\\]/g, '')}%`}`);
    return rows.length === 1 ? toRemote(rows[0]!) : undefined;
  }

  /** Stopped on the peer: listed as exited from now on. */
  markStopped(allocationId: string, now = Date.now()): Promise<RemoteContainer | undefined> {
    return this.#setStopped(allocationId, now);
  }

  /** Started again on the peer: listed as running there again. */
  markStarted(allocationId: string): Promise<RemoteContainer | undefined> {
    return this.#setStopped(allocationId, null);
  }

  #setStopped(allocationId: string, stoppedAt: number | null): Promise<RemoteContainer | undefined> {
    return this.#storage.transaction(async (db) => {
      await db.update(remoteRuns).set({ stoppedAt }).where(eq(remoteRuns.allocationId, allocationId));
      const [row] = await db.select().from(remoteRuns).where(eq(remoteRuns.allocationId, allocationId));
      return row ? toRemote(row) : undefined;
    });
  }

  /** Deleted on the peer: no longer listed. */
  async forget(allocationId: string): Promise<void> {
    await this.#storage.transaction(async (db) => {
      await db.delete(remoteRuns).where(eq(remoteRuns.allocationId, allocationId));
    });
  }
}

function toRemote(r: RemoteRunRow): RemoteContainer {
  return {
    nodeId: r.nodeId,
    containerId: r.containerId,
    allocationId: r.allocationId,
    resourceId: r.resourceId,
    image: r.image,
    ...(r.command ? { command: JSON.parse(r.command) as string[] } : {}),
    cpuMilli: r.cpuMilli,
    memory: r.memory,
    gpu: r.gpu,
    createdAt: new Date(r.createdAt).toISOString(),
    ...(r.stoppedAt ? { stoppedAt: new Date(r.stoppedAt).toISOString() } : {}),
  };
}
