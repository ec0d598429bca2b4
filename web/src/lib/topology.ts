/**
 * The topology graph's data: IARNet nodes (gossip), this node's compute resources, and what runs
 * on them (application instances grouped per application, other containers one by one). Pure, so
 * it is tested without a canvas; the chart itself (components/Topology.tsx) is lazy.
 */
import type { JsonOf } from '../api/types';

export type NodeInfo = JsonOf<'/api/nodes'>['items'][number];
export type ResourceInfo = JsonOf<'/api/resources'>[number];
export type ContainerInfo = JsonOf<'/api/containers'>['items'][number];
export type AppInfo = JsonOf<'/api/applications'>[number];

export const CATEGORIES = ['node', 'resource', 'app', 'container'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface GraphNode {
  id: string;
  name: string;
  category: number;
  symbolSize: number;
  value: string;
}
export interface GraphLink {
  source: string;
  target: string;
}

/** More containers than this are summarised, so a busy node still draws quickly. */
const MAX_CONTAINERS = 150;

export function buildTopology(input: {
  nodes: NodeInfo[];
  resources: ResourceInfo[];
  containers: ContainerInfo[];
  apps: AppInfo[];
}): { nodes: GraphNode[]; links: GraphLink[] } {
  const out: GraphNode[] = [];
  const links: GraphLink[] = [];
  const seen = new Set<string>();
  const add = (n: GraphNode) => {
    if (seen.has(n.id)) return false;
    seen.add(n.id);
    out.push(n);
    return true;
  };
  const cat = (c: Category) => CATEGORIES.indexOf(c);
  const self = input.nodes.find((n) => n.self) ?? input.nodes[0];
  for (const n of input.nodes) {
    add({
      id: `node:${n.id}`,
      name: n.id,
      category: cat('node'),
      symbolSize: n.self ? 46 : 34,
      value: `${n.status} · ${n.http_address}`,
    });
  }
  // Peers are linked to this node: gossip membership as the graph's spine.
  for (const n of input.nodes)
    if (self && n !== self) links.push({ source: `node:${self.id}`, target: `node:${n.id}` });
  for (const r of input.resources) {
    add({
      id: `res:${r.id}`,
      name: r.name,
      category: cat('resource'),
      symbolSize: 28,
      value: `${r.type} · ${r.status}`,
    });
    if (self) links.push({ source: `node:${self.id}`, target: `res:${r.id}` });
  }
  const appName = new Map(input.apps.map((a) => [a.id, a.name]));
  const live = input.containers.filter((c) => c.allocation !== 'released');
  let shown = 0;
  for (const c of live) {
    const resId = `res:${c.resourceId}`;
    if (!seen.has(resId)) {
      add({ id: resId, name: c.resourceId, category: cat('resource'), symbolSize: 28, value: '' });
      const owner = input.nodes.find((n) => n.id === c.nodeId) ?? self;
      if (owner) links.push({ source: `node:${owner.id}`, target: resId });
    }
    if (c.appId) {
      const id = `app:${c.appId}:${c.resourceId}`;
      if (
        add({
          id,
          name: appName.get(c.appId) ?? c.appId,
          category: cat('app'),
          symbolSize: 22,
          value: c.image,
        })
      )
        links.push({ source: resId, target: id });
      continue;
    }
    if (shown++ >= MAX_CONTAINERS) continue;
    const id = `ctr:${c.allocationId}`;
    add({ id, name: c.name, category: cat('container'), symbolSize: 14, value: `${c.image} · ${c.status}` });
    links.push({ source: resId, target: id });
  }
  if (shown > MAX_CONTAINERS && self) {
    const id = 'ctr:more';
    add({ id, name: `+${shown - MAX_CONTAINERS}`, category: cat('container'), symbolSize: 14, value: '' });
    links.push({ source: `node:${self.id}`, target: id });
  }
  return { nodes: out, links };
}
