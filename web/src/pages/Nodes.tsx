/**
 * Nodes: the gossip membership (GET /api/nodes: this node and its peers, status, addresses,
 * quota, last seen) as stat cards and a table, and the topology graph of nodes → resources →
 * applications and containers (ECharts, loaded lazily). Re-read every 10 s: membership changes
 * are not on the event stream.
 */
import { createResource, lazy, onCleanup, onMount, Show, Suspense } from 'solid-js';
import { api, asApiError } from '../api/client';
import { type Column, DataTable, PageHeader, RefreshButton, StatGrid } from '../components/page';
import { StatusDot } from '../components/ui';
import { fmtNumber, fmtTime } from '../lib/format';
import { locale, type MessageKey, t } from '../lib/i18n';
import { latest } from '../lib/latest';
import type { NodeInfo } from '../lib/topology';

const Topology = lazy(() => import('../components/Topology'));

const REFRESH_MS = 10_000;
const STATUS_TONE = { alive: 'ok', suspect: 'warn', dead: 'error', left: 'idle' } as const;

async function fetchNodes(): Promise<NodeInfo[]> {
  const { data, error } = await api.GET('/api/nodes');
  if (error) throw asApiError(error);
  return data?.items ?? [];
}

/** What the graph draws besides nodes; a failed read just leaves that layer out. */
async function fetchGraphParts() {
  const [resources, containers, apps] = await Promise.all([
    api.GET('/api/resources').then((r) => r.data ?? []),
    api.GET('/api/containers').then((r) => r.data?.items ?? []),
    api.GET('/api/applications').then((r) => r.data ?? []),
  ]);
  return { resources, containers, apps };
}

const usage = (used: number, limit: number, unit = '') =>
  `${fmtNumber(used, 2)} / ${fmtNumber(limit, 2)}${unit}`;

export default function NodesPage() {
  const [nodes, { refetch }] = createResource(fetchNodes);
  const [parts, { refetch: refetchParts }] = createResource(fetchGraphParts);
  onMount(() => {
    const timer = setInterval(() => {
      void refetch();
      void refetchParts();
    }, REFRESH_MS);
    onCleanup(() => clearInterval(timer));
  });

  // The last list while a periodic re-read runs; never suspends on a re-read (see ../lib/latest.ts).
  const list = () => latest(nodes, [] as NodeInfo[]);
  const graphParts = () => latest(parts, undefined);
  const count = (...s: NodeInfo['status'][]) => list().filter((n) => s.includes(n.status)).length;

  const columns: Column<NodeInfo>[] = [
    {
      header: t('nodes.id'),
      cell: (n) => (
        <>
          <span class="font-mono text-xs sm:text-sm">{n.id}</span>
          <Show when={n.self}>
            <span class="badge ml-2 bg-blue-100 text-blue-800 dark:bg-blue-900 dark:text-blue-200">
              {t('nodes.self')}
            </span>
          </Show>
        </>
      ),
    },
    {
      header: t('nodes.status'),
      cell: (n) => (
        <span data-testid="node-status" title={fmtTime(n.status_since, locale())}>
          <StatusDot tone={STATUS_TONE[n.status]} label={t(`nodes.status.${n.status}` as MessageKey)} />
        </span>
      ),
    },
    {
      header: t('nodes.address'),
      class: 'text-xs font-mono',
      cell: (n) => (
        <>
          <div>HTTP {n.http_address}</div>
          <div class="text-gray-500">gRPC {n.grpc_address}</div>
        </>
      ),
    },
    {
      header: t('nodes.cpu'),
      class: 'tabular-nums',
      cell: (n) => (n.resources ? usage(n.resources.current.cpu, n.resources.limits.cpu) : '—'),
    },
    {
      header: t('nodes.memory'),
      class: 'tabular-nums',
      cell: (n) => (n.resources ? usage(n.resources.current.memory, n.resources.limits.memory, ' GB') : '—'),
    },
    { header: t('nodes.resources'), class: 'tabular-nums', cell: (n) => n.resources?.resource_count ?? '—' },
    { header: t('nodes.lastSeen'), class: 'text-xs', cell: (n) => fmtTime(n.last_seen, locale()) },
    { header: t('nodes.version'), class: 'text-xs', cell: (n) => n.version },
  ];

  return (
    <section aria-labelledby="nodes-title">
      <PageHeader id="nodes-title" title={t('nodes.title')}>
        <RefreshButton
          onClick={() => {
            void refetch();
            void refetchParts();
          }}
        />
      </PageHeader>
      <StatGrid
        stats={[
          { label: t('nodes.total'), value: list().length, icon: 'i-carbon-assembly-cluster' },
          {
            label: t('nodes.alive'),
            value: count('alive'),
            icon: 'i-carbon-checkmark-outline',
            tone: 'text-green-600',
          },
          {
            label: t('nodes.suspect'),
            value: count('suspect'),
            icon: 'i-carbon-warning-alt',
            tone: 'text-yellow-500',
          },
          {
            label: t('nodes.down'),
            value: count('dead', 'left'),
            icon: 'i-carbon-error',
            tone: 'text-red-600',
          },
        ]}
      />
      <DataTable
        title={t('nodes.list')}
        label={t('nodes.list')}
        class="mb-4"
        columns={columns}
        rows={list()}
        loading={nodes.loading}
        error={nodes.error}
        rowAttrs={(n) => ({ 'data-testid': 'node-row', 'data-id': n.id, 'data-status': n.status })}
      />
      <section class="card" aria-labelledby="topo-title">
        <h2 id="topo-title" class="text-sm font-semibold mb-2">
          {t('topo.title')}
        </h2>
        <Show when={list().length > 0 && graphParts()}>
          {(p) => (
            <Suspense fallback={<div class="h-80" />}>
              <Topology nodes={list()} {...p()} />
            </Suspense>
          )}
        </Show>
      </section>
    </section>
  );
}
