/**
 * GET /api/nodes: this node and every peer it knows, with status, addresses, resources (the
 * document's units: cores, GB, cards) and when it was last heard from.
 */
import * as v from 'valibot';
import { requireRole } from '../../core/kernel/guard.ts';
import { describe } from '../../core/kernel/openapi.ts';
import type { App } from '../../core/kernel/plugin.ts';
import type { Amounts, Member, Membership } from './membership.ts';

const Triple = v.object({ cpu: v.number(), memory: v.number(), gpu: v.number() });
const NodeView = v.object({
  id: v.string(),
  self: v.boolean(),
  status: v.picklist(['alive', 'suspect', 'dead', 'left']),
  grpc_address: v.string(),
  http_address: v.string(),
  incarnation: v.number(),
  heartbeat: v.number(),
  version: v.string(),
  resources: v.nullable(
    v.object({
      limits: Triple,
      current: Triple,
      available: Triple,
      resource_count: v.number(),
    }),
  ),
  last_seen: v.pipe(v.string(), v.description('ISO time this node last heard of its progress')),
  status_since: v.string(),
  updated_at: v.pipe(v.string(), v.description('ISO time of its last data change, by its own clock')),
});
export const NodeList = v.object({ items: v.array(NodeView), total: v.number() });

const GB = 1e9;
const triple = (a: Amounts) => ({
  cpu: a.cpu,
  memory: Math.round((a.memory / GB) * 1000) / 1000,
  gpu: a.gpu,
});

export function nodeView(m: Member, selfId: string, monoToWall: (mono: number) => number) {
  return {
    id: m.id,
    self: m.id === selfId,
    status: m.status,
    grpc_address: m.grpcAddr,
    http_address: m.httpAddr,
    incarnation: m.incarnation,
    heartbeat: m.heartbeat,
    version: m.version,
    resources: m.resources
      ? {
          limits: triple(m.resources.limits),
          current: triple(m.resources.current),
          available: triple(m.resources.available),
          resource_count: m.resources.resourceCount,
        }
      : null,
    last_seen: new Date(m.id === selfId ? Date.now() : monoToWall(m.lastHeard)).toISOString(),
    status_since: new Date(monoToWall(m.statusSince)).toISOString(),
    updated_at: new Date(m.updatedAt || 0).toISOString(),
  };
}

export function discoveryRoutes(
  app: App,
  membership: Membership,
  monoToWall: (mono: number) => number,
): void {
  app.get(
    '/api/nodes',
    describe({
      summary: 'IARNet nodes known through gossip (this node first)',
      tags: ['nodes'],
      responses: { 200: { description: 'This node and its peers', schema: NodeList } },
    }),
    requireRole('viewer'),
    (c) => {
      const selfId = membership.selfId;
      const items = membership
        .members()
        .sort((a, b) => (a.id === selfId ? -1 : b.id === selfId ? 1 : a.id.localeCompare(b.id)))
        .map((m) => nodeView(m, selfId, monoToWall));
      return c.json({ items, total: items.length });
    },
  );
}
