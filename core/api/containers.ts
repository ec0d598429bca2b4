/**
 * Container operations: list, inspect, stop, restart, delete, logs (tail, or follow over SSE)
 * and stats. Stopping or deleting releases the container's quota exactly once.
 */

import type { Context } from 'hono';
import type { QuotaLedger } from '../domain/ledger/ledger.ts';
import { type Allocation, fromMilli } from '../domain/ledger/types.ts';
import type { ResourceCatalog } from '../domain/resources/types.ts';
import { engineCall, type RemoteContainer, type RunService } from '../domain/runs.ts';
import { notFound } from '../kernel/errors.ts';
import { requireRole } from '../kernel/guard.ts';
import { describe } from '../kernel/openapi.ts';
import type { App, AppEnv } from '../kernel/plugin.ts';
import { bytesToGB } from '../kernel/quantity.ts';
import { validate } from '../kernel/validation.ts';
import type { LogLine, LogOptions, WorkloadStats } from '../slots/runner.ts';
import { streamLogLines } from './log-stream.ts';
import { Container, ContainerList, ContainerRef, ContainerStats, LogLines, LogsQuery } from './run-model.ts';

export interface ContainerApiDeps {
  ledger: QuotaLedger;
  runs: RunService;
  catalog: ResourceCatalog;
  /** Runs this node placed on peers (listed with their node; the peer's ledger books them). */
  remote?: () => Promise<RemoteContainer[]>;
  /** Stop, restart or delete such a run on its peer; undefined when `ref` is none of them. */
  remoteControl?: (
    op: 'stop' | 'restart' | 'remove',
    ref: string,
  ) => Promise<RemoteContainer | 'removed' | undefined>;
  /** A resource-use sample of such a run, from its peer; undefined when `ref` is none of them. */
  remoteStats?: (ref: string) => Promise<WorkloadStats | undefined>;
  /** The log of such a run, read from its peer; undefined when `ref` is none of them. */
  remoteLogs?: (
    ref: string,
    opts: LogOptions & { signal: AbortSignal },
  ) => Promise<AsyncIterable<LogLine> | undefined>;
}

/** A run placed on a peer, in the list's shape: its state lives on that node. */
export function toRemoteContainer(r: RemoteContainer) {
  return {
    id: r.containerId,
    allocationId: r.allocationId,
    name: `on ${r.nodeId}`,
    image: r.image,
    ...(r.command ? { command: r.command } : {}),
    // Its live state is the peer's; this node knows whether it stopped it there.
    status: r.stoppedAt ? 'exited' : 'remote',
    allocation: r.stoppedAt ? ('released' as const) : ('committed' as const),
    resourceId: r.resourceId,
    nodeId: r.nodeId,
    remote: true,
    createdAt: r.createdAt,
    resources: { cpu: fromMilli(r.cpuMilli), memory: bytesToGB(r.memory), gpu: r.gpu },
  };
}

export function toContainer(a: Allocation) {
  return {
    id: a.workloadId ?? '',
    allocationId: a.id,
    name: a.workloadName,
    image: a.image,
    ...(a.command ? { command: a.command } : {}),
    status:
      a.state === 'released'
        ? (a.workloadState ?? 'exited')
        : a.state === 'reserved'
          ? 'starting'
          : (a.workloadState ?? 'running'),
    allocation: a.state,
    ...(a.releaseReason ? { releaseReason: a.releaseReason } : {}),
    resourceId: a.resourceId,
    nodeId: a.nodeId,
    ...(a.appId ? { appId: a.appId } : {}),
    createdAt: a.createdAt,
    resources: { cpu: fromMilli(a.cpuMilli), memory: bytesToGB(a.memory), gpu: a.gpu },
  };
}

export function containerRoutes(app: App, deps: ContainerApiDeps): void {
  /** The log of a run placed on a peer, read from it (404 when `id` is no such run either). */
  const remoteLogs = async (
    c: Context<AppEnv>,
    id: string,
    q: { tail: number; since?: string; follow: string },
  ) => {
    const follow = q.follow === 'true' || q.follow === '1';
    const abort = new AbortController();
    const opts = { tail: q.tail, ...(q.since ? { since: q.since } : {}), follow, signal: abort.signal };
    const lines = await deps.remoteLogs?.(id, opts);
    if (!lines) throw notFound(`Container ${id}`);
    if (!follow) {
      const items: LogLine[] = [];
      for await (const line of lines) items.push(line);
      return c.json({ items });
    }
    return streamLogLines(
      c,
      (signal) => {
        signal.addEventListener('abort', () => abort.abort(), { once: true });
        return lines;
      },
      { container: id, remote: true },
    );
  };

  const find = async (id: string) => {
    const a = await deps.ledger.find(id);
    if (!a) throw notFound(`Container ${id}`);
    return a;
  };
  const ref = validate('param', ContainerRef);
  const tags = ['containers'];
  const missing = { 404: 'No such container' };

  app.get(
    '/api/containers',
    describe({
      summary:
        'List containers (running and stopped, until deleted), and runs this node placed on peers (status "remote", with their nodeId)',
      tags,
      responses: { 200: { description: 'Containers', schema: ContainerList } },
    }),
    requireRole('viewer'),
    async (c) => {
      const remote = ((await deps.remote?.()) ?? []).map(toRemoteContainer);
      const items = [...(await deps.ledger.visible()).map(toContainer), ...remote].sort((a, b) =>
        b.createdAt.localeCompare(a.createdAt),
      );
      return c.json({ items, total: items.length });
    },
  );

  app.get(
    '/api/containers/:id',
    describe({
      summary: 'One container',
      tags,
      responses: { 200: { description: 'The container', schema: Container } },
      errors: missing,
    }),
    requireRole('viewer'),
    ref,
    async (c) => c.json(toContainer(await find(c.req.valid('param').id))),
  );

  const action = (verb: 'stop' | 'restart', summary: string) =>
    app.post(
      `/api/containers/:id/${verb}`,
      describe({
        summary,
        tags,
        responses: { 200: { description: 'Done', schema: Container } },
        errors: {
          ...missing,
          409: 'Not possible in the container’s state',
          502: 'The engine (or the peer running it) refused',
          503: 'The resource (or the peer running it) is unreachable',
        },
      }),
      requireRole('operator'),
      ref,
      async (c) => {
        const id = c.req.valid('param').id;
        const a = await deps.ledger.find(id);
        if (!a) {
          // A run this node placed on a peer is stopped or restarted there.
          const remote = await deps.remoteControl?.(verb, id);
          if (remote && remote !== 'removed') return c.json(toRemoteContainer(remote));
        }
        if (!a) throw notFound(`Container ${id}`);
        await deps.runs[verb](a);
        return c.json(toContainer((await deps.ledger.get(a.id)) ?? a));
      },
    );
  action('stop', 'Stop a container and release its quota (a run placed on a peer is stopped there)');
  action(
    'restart',
    'Restart a container: a running one keeps its allocation; a stopped one is booked again (503 without room) and started (a run placed on a peer is restarted there)',
  );

  app.delete(
    '/api/containers/:id',
    describe({
      summary:
        'Delete a container (stops it first) and release its quota; a run placed on a peer is deleted there',
      tags,
      responses: { 204: { description: 'Deleted' } },
      errors: {
        ...missing,
        502: 'The engine (or the peer running it) refused',
        503: 'The resource (or the peer running it) is unreachable',
      },
    }),
    requireRole('operator'),
    ref,
    async (c) => {
      const id = c.req.valid('param').id;
      const a = await deps.ledger.find(id);
      if (a) await deps.runs.remove(a);
      else if (!(await deps.remoteControl?.('remove', id))) throw notFound(`Container ${id}`);
      return c.body(null, 204);
    },
  );

  app.get(
    '/api/containers/:id/logs',
    describe({
      summary:
        'Container logs: the last `tail` lines, or with follow=true a text/event-stream of `log` events',
      tags,
      responses: {
        200: { description: 'Log lines (JSON), or an event stream when follow=true', schema: LogLines },
      },
      errors: { ...missing, 409: 'The container has not started yet', 503: 'The resource is unreachable' },
    }),
    requireRole('viewer'),
    ref,
    validate('query', LogsQuery),
    async (c) => {
      const id = c.req.valid('param').id;
      const q = c.req.valid('query');
      const a = await deps.ledger.find(id);
      if (!a) return remoteLogs(c, id, q);
      if (!a.workloadId) throw notFound(`Logs of container ${a.id}`);
      const runner = await engineCall(() => deps.catalog.runner(a.resourceId));
      const follow = q.follow === 'true' || q.follow === '1';
      const opts = { tail: q.tail, ...(q.since ? { since: q.since } : {}) };
      if (!follow) {
        const items: LogLine[] = [];
        await engineCall(async () => {
          for await (const line of runner.logs(a.workloadId!, { ...opts, follow: false })) items.push(line);
        });
        return c.json({ items });
      }
      // Fail before the stream opens when the engine cannot be reached (errors inside the
      // stream never reach the error handler).
      await engineCall(() => runner.inspect(a.workloadId!));
      return streamLogLines(c, (signal) => runner.logs(a.workloadId!, { ...opts, follow: true, signal }), {
        container: a.id,
      });
    },
  );

  app.get(
    '/api/containers/:id/stats',
    describe({
      summary:
        'Live resource use: CPU % (from two samples), memory, network and block I/O (of a run placed on a peer: read from that peer)',
      tags,
      responses: { 200: { description: 'One sample', schema: ContainerStats } },
      errors: {
        ...missing,
        409: 'The container is not running',
        502: 'The peer running it refused',
        503: 'The resource (or the peer running it) is unreachable',
      },
    }),
    requireRole('viewer'),
    ref,
    async (c) => {
      const id = c.req.valid('param').id;
      const a = await deps.ledger.find(id);
      if (!a) {
        const remote = await deps.remoteStats?.(id);
        if (remote) return c.json(remote);
        throw notFound(`Container ${id}`);
      }
      if (!a.workloadId || a.state === 'released') {
        return c.json(
          { error: 'Conflict', details: 'The container is not running', code: 'NOT_RUNNING' },
          409,
        );
      }
      const runner = await engineCall(() => deps.catalog.runner(a.resourceId));
      return c.json(await engineCall(() => runner.stats(a.workloadId!)));
    },
  );
}
