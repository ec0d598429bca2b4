import { render, screen, waitFor, within } from '@solidjs/testing-library';
import { HttpResponse, http } from 'msw';
import { beforeEach, describe, expect, it } from 'vitest';
import { App } from '../App';
import { setSession } from '../api/client';
import { setLocale } from '../lib/i18n';
import { buildTopology, type NodeInfo } from '../lib/topology';
import { adminSession, at, localDocker, server } from '../test/server';

const node = (id: string, over: Partial<NodeInfo> = {}): NodeInfo => ({
  id,
  self: false,
  status: 'alive',
  status_since: '2026-01-01T00:00:00Z',
  http_address: `127.0.0.1:80${id.length}`,
  grpc_address: `127.0.0.1:90${id.length}`,
  heartbeat: 10,
  incarnation: 1,
  last_seen: '2026-01-01T00:00:05Z',
  updated_at: '2026-01-01T00:00:05Z',
  version: '0.1.0',
  resources: {
    limits: { cpu: 8, memory: 16, gpu: 0 },
    current: { cpu: 0.5, memory: 1, gpu: 0 },
    available: { cpu: 7.5, memory: 15, gpu: 0 },
    resource_count: 1,
  },
  ...over,
});

const container = {
  id: 'c0ffee',
  allocationId: 'alloc-1',
  appId: 'app_0123456789abcdef0123',
  name: 'iarnet-alloc-1',
  image: 'iarnet-test/busybox:latest',
  status: 'running',
  allocation: 'committed' as const,
  resourceId: 'r-local',
  nodeId: 'n-self',
  createdAt: '2026-01-01T00:00:00Z',
  resources: { cpu: 0.1, memory: 0.05, gpu: 0 },
};

beforeEach(() => {
  setLocale('zh-CN');
  setSession(adminSession);
});

describe('nodes page', () => {
  it('shows the gossip membership as stat cards and a table, and draws the topology', async () => {
    const items = [
      node('n-self', { self: true }),
      node('n-peer', { status: 'suspect', resources: null }),
      node('n-gone', { status: 'left' }),
    ];
    server.use(
      http.get('*/api/nodes', () => HttpResponse.json({ items, total: items.length })),
      http.get('*/api/containers', () => HttpResponse.json({ items: [container], total: 1 })),
      http.get('*/api/applications', () => HttpResponse.json([])),
    );
    at('/nodes');
    render(() => <App />);
    expect(await screen.findByRole('heading', { name: '节点管理' })).toBeTruthy();
    await waitFor(() => expect(screen.getAllByTestId('node-row')).toHaveLength(3));
    const stat = (name: string) =>
      within(screen.getByRole('region', { name })).getByTestId('stat-value').textContent;
    expect(stat('节点总数')).toBe('3');
    expect(stat('在线')).toBe('1');
    expect(stat('可疑')).toBe('1');
    expect(stat('离线')).toBe('1');
    const [self, peer] = screen.getAllByTestId('node-row');
    expect(self!.textContent).toContain('本节点');
    expect(self!.textContent).toContain('0.50 / 8');
    expect(within(peer!).getByTestId('node-status').textContent).toBe('可疑');
    expect(peer!.textContent).toContain('—');
    const topo = await screen.findByTestId('topology');
    // 3 nodes + the local resource + one application instance group
    expect(topo.dataset.nodes).toBe('5');
  });

  it('shows a failed load as an error', async () => {
    server.use(
      http.get('*/api/nodes', () =>
        HttpResponse.json(
          { error: 'Unavailable', details: 'discovery is not loaded', code: 'X' },
          { status: 503 },
        ),
      ),
      http.get('*/api/containers', () => HttpResponse.json({ items: [], total: 0 })),
      http.get('*/api/applications', () => HttpResponse.json([])),
    );
    at('/nodes');
    render(() => <App />);
    expect((await screen.findByRole('alert')).textContent).toContain('discovery is not loaded');
  });

  it('builds the graph: peers linked to this node, resources under it, containers under resources', () => {
    const g = buildTopology({
      nodes: [node('a', { self: true }), node('b')],
      resources: [localDocker],
      containers: [
        { ...container, appId: undefined },
        { ...container, allocationId: 'x', allocation: 'released' },
      ],
      apps: [],
    });
    expect(g.nodes.map((n) => n.id)).toEqual(['node:a', 'node:b', 'res:r-local', 'ctr:alloc-1']);
    expect(g.links).toEqual([
      { source: 'node:a', target: 'node:b' },
      { source: 'node:a', target: 'res:r-local' },
      { source: 'res:r-local', target: 'ctr:alloc-1' },
    ]);
  });
});
