/**
 * The design document's node API (section 3.4) — POST /run, GET /resources, GET /status — with
 * its exact shapes, plus `/api/run` and `/api/quota` under the dashboard's prefix.
 * (`/api/resources` is the resource-provider API and `/api/status` the application status of
 * section 4.3, so those two names are not aliases here.)
 */
import type { Context } from 'hono';
import type { IdempotencyStore } from '../domain/idempotency.ts';
import { IdempotencyStore as Idem } from '../domain/idempotency.ts';
import type { QuotaLedger } from '../domain/ledger/ledger.ts';
import { fromMilli, toMilli, type Usage } from '../domain/ledger/types.ts';
import type { RemoteContainer, RunService } from '../domain/runs.ts';
import { requireRole } from '../kernel/guard.ts';
import { describe } from '../kernel/openapi.ts';
import type { App, AppEnv } from '../kernel/plugin.ts';
import { bytesToGB, gbToBytes } from '../kernel/quantity.ts';
import { validate } from '../kernel/validation.ts';
import { NodeStatus, ResourcesSummary, RunAccepted, RunBody, type RunBodyInput } from './run-model.ts';

export interface NodeApiDeps {
  ledger: QuotaLedger;
  runs: RunService;
  idempotency: IdempotencyStore;
  nodeId: string;
  /** host:port peers reach this node at (the document's node_info.address). */
  address: string;
  /** When the reconciler last brought the ledger up to date. */
  lastReconciled(): string;
  /** Runs this node placed on peers: listed in /status with their node_id. */
  remote?: () => Promise<RemoteContainer[]>;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const triple = (u: Usage) => ({ cpu: fromMilli(u.cpuMilli), memory: bytesToGB(u.memory), gpu: u.gpu });
const percent = (used: number, limit: number) => (limit > 0 ? round2((used / limit) * 100) : 0);

export function nodeRoutes(app: App, deps: NodeApiDeps): void {
  const runDoc = describe({
    summary: 'Start a container (the design document’s POST /run)',
    description:
      'Admits the run against the node’s quota and a resource’s capacity, starts it, and answers 202 with the container id. ' +
      'Over quota: 503 {"error":"Resource limit exceeded","details":"Insufficient CPU resources"} naming the short resource. ' +
      'Send an Idempotency-Key header to make retries safe: a repeat returns the first answer.',
    tags: ['containers'],
    body: true,
    responses: { 202: { description: 'Started', schema: RunAccepted } },
    errors: {
      409: 'A request with this Idempotency-Key is still running',
      422: 'Idempotency-Key reused with another body, or the image cannot be pulled',
      502: 'The engine refused to start the container',
      503: 'Resource limit exceeded, or the resource is unreachable',
    },
  });

  const run = async (c: Context<AppEnv, string, { out: { json: RunBodyInput } }>) => {
    const body = c.req.valid('json');
    const principal = c.get('principal');
    const key = c.req.header('idempotency-key');
    if (key !== undefined) {
      Idem.checkKey(key);
      const start = await deps.idempotency.begin(principal.id, key, Idem.hash(body));
      if (start.kind === 'replay') {
        c.header('Idempotent-Replayed', 'true');
        return c.json(start.body as object, start.status as 202);
      }
    }
    try {
      const result = await deps.runs.run(
        {
          image: body.image,
          ...(body.command ? { command: body.command } : {}),
          cpuMilli: toMilli(body.cpu),
          memory: gbToBytes(body.memory),
          gpu: body.gpu,
          ...(body.env ? { env: body.env } : {}),
          ...(body.ports
            ? {
                ports: body.ports.map((p) => ({ ...p, protocol: p.protocol.toLowerCase() as 'tcp' | 'udp' })),
              }
            : {}),
          ...(body.resource_id ? { resourceId: body.resource_id } : {}),
        },
        principal,
      );
      const answer =
        result.where === 'local'
          ? {
              status: 'accepted' as const,
              container_id: result.workload.id,
              message: 'Container started successfully',
              allocation_id: result.allocation.id,
              resource_id: result.allocation.resourceId,
              node_id: deps.nodeId,
            }
          : {
              status: 'accepted' as const,
              container_id: result.placement.containerId,
              message: `Container started successfully on peer ${result.placement.nodeId}`,
              allocation_id: result.placement.allocationId,
              resource_id: result.placement.resourceId,
              node_id: result.placement.nodeId,
            };
      if (key !== undefined) await deps.idempotency.finish(principal.id, key, 202, answer);
      return c.json(answer, 202);
    } catch (e) {
      if (key !== undefined) await deps.idempotency.finish(principal.id, key, 500, null);
      throw e;
    }
  };

  for (const path of ['/run', '/api/run']) {
    app.post(path, runDoc, requireRole('operator'), validate('json', RunBody), run);
  }

  const resourcesDoc = describe({
    summary: 'Quota summary (the design document’s GET /resources)',
    description:
      'limits (resource_limits), current (active allocations), available and utilization (percent); memory in GB.',
    tags: ['containers'],
    responses: { 200: { description: 'Quota of this node', schema: ResourcesSummary } },
  });
  for (const path of ['/resources', '/api/quota']) {
    app.get(path, resourcesDoc, requireRole('viewer'), async (c) => {
      const limits = deps.ledger.limits;
      const used = await deps.ledger.usage();
      const available = {
        cpuMilli: Math.max(0, limits.cpuMilli - used.cpuMilli),
        memory: Math.max(0, limits.memory - used.memory),
        gpu: Math.max(0, limits.gpu - used.gpu),
      };
      return c.json({
        limits: triple(limits),
        current: triple(used),
        available: triple(available),
        utilization: {
          cpu: percent(used.cpuMilli, limits.cpuMilli),
          memory: percent(used.memory, limits.memory),
          gpu: percent(used.gpu, limits.gpu),
        },
      });
    });
  }

  app.get(
    '/status',
    describe({
      summary: 'Containers of this node (the design document’s GET /status)',
      tags: ['containers'],
      responses: { 200: { description: 'Containers and node info', schema: NodeStatus } },
    }),
    requireRole('viewer'),
    async (c) => {
      const containers = (await deps.ledger.visible())
        .filter((a) => a.workloadId)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
        .map((a) => ({
          id: a.workloadId!,
          image: a.image,
          status: a.state === 'released' ? (a.workloadState ?? 'exited') : (a.workloadState ?? 'running'),
          created_at: a.createdAt,
          resources: triple(a),
          node_id: deps.nodeId,
        }));
      for (const r of (await deps.remote?.()) ?? []) {
        containers.push({
          id: r.containerId,
          image: r.image,
          status: 'remote',
          created_at: r.createdAt,
          resources: { cpu: fromMilli(r.cpuMilli), memory: bytesToGB(r.memory), gpu: r.gpu },
          node_id: r.nodeId,
        });
      }
      containers.sort((a, b) => a.created_at.localeCompare(b.created_at));
      return c.json({
        containers,
        total_containers: containers.length,
        node_info: { id: deps.nodeId, address: deps.address, last_updated: deps.lastReconciled() },
      });
    },
  );
}
