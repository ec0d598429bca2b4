/**
 * 运行状态: stat cards, the application status table (../components/AppStatusTable.tsx), the
 * container table (live: /api/events pushes changes, plus an optional auto refresh), the log
 * viewer, and the quota summary (GET /resources) as lazily loaded gauges
 * plus a utilization-over-time line sampled at each quota read.
 */
import { createResource, createSignal, lazy, onCleanup, onMount, Show, Suspense } from 'solid-js';
import { api, asApiError, roleAtLeast, session } from '../api/client';
import type { paths } from '../api/schema';
import { openSse } from '../api/sse';
import { AppStatusTable } from '../components/AppStatusTable';
import { LiveUsage } from '../components/LiveUsage';
import { LogViewer } from '../components/LogViewer';
import { type Column, DataTable, PageHeader, RefreshButton, StatGrid } from '../components/page';
import { IconButton, StatusDot, toast, toastError } from '../components/ui';
import { fmtNumber, fmtTime } from '../lib/format';
import { locale, t } from '../lib/i18n';
import { latest } from '../lib/latest';
import { recordUsage, usageSamples } from '../lib/usage';

export type Container =
  paths['/api/containers']['get']['responses'][200]['content']['application/json']['items'][number];
type Quota = paths['/resources']['get']['responses'][200]['content']['application/json'];

const QuotaGauges = lazy(() => import('../components/QuotaGauges'));
const UsageChart = lazy(() => import('../components/UsageChart'));

type Tone = 'ok' | 'warn' | 'error' | 'idle';
export function toneOf(status: string): Tone {
  if (status === 'running') return 'ok';
  if (status === 'dead' || status === 'failed' || status === 'error') return 'error';
  if (status === 'exited' || status === 'stopped') return 'idle';
  return 'warn';
}

async function fetchContainers(): Promise<Container[]> {
  const { data, error } = await api.GET('/api/containers');
  if (error) throw asApiError(error);
  return data?.items ?? [];
}
async function fetchQuota(): Promise<Quota | undefined> {
  const { data } = await api.GET('/resources');
  if (data) recordUsage(data.utilization);
  return data;
}

const ref = (c: Container) => c.id || c.allocationId;

export default function StatusPage() {
  const [containers, { refetch, mutate }] = createResource(fetchContainers);
  const [quota, { refetch: refetchQuota }] = createResource(fetchQuota);
  const [auto, setAuto] = createSignal(true);
  const [interval, setIntervalSec] = createSignal(30);
  const [live, setLive] = createSignal(false);
  const [logsOf, setLogsOf] = createSignal<Container | null>(null);
  const [busy, setBusy] = createSignal<string | null>(null);
  const canOperate = () => roleAtLeast(session()?.user.role, 'operator');

  const [tick, setTick] = createSignal(0);
  const reload = () => {
    setTick((n) => n + 1);
    void refetch();
    void refetchQuota();
  };

  // Auto refresh on a timer (10 s / 30 s / 1 min).
  let timer: ReturnType<typeof setInterval> | undefined;
  const schedule = () => {
    clearInterval(timer);
    if (auto()) timer = setInterval(reload, interval() * 1000);
  };
  // Live push: any run, resource or application status/health event re-reads the lists (coalesced).
  // Build output (application:build, every 250 ms while building) changes no status: a deploy's
  // end arrives as application:status.
  let pending: ReturnType<typeof setTimeout> | undefined;
  onMount(() => {
    schedule();
    const close = openSse('/api/events', {
      onOpen: () => setLive(true),
      onError: () => setLive(false),
      onMessage: (m) => {
        const app = m.event.startsWith('application:') && m.event !== 'application:build';
        if (!app && !m.event.startsWith('run:') && m.event !== 'resource:changed' && m.event !== 'reset')
          return;
        clearTimeout(pending);
        pending = setTimeout(reload, 150);
      },
    });
    onCleanup(() => {
      close();
      clearInterval(timer);
      clearTimeout(pending);
    });
  });

  // Never the suspending accessors: re-reads run outside navigations (see ../lib/latest.ts).
  const list = () => latest(containers, [] as Container[]);
  const quotaNow = () => latest(quota, undefined);

  const stats = () => {
    const cs = list();
    return {
      running: cs.filter((c) => toneOf(c.status) === 'ok').length,
      warning: cs.filter((c) => toneOf(c.status) === 'warn').length,
      error: cs.filter((c) => toneOf(c.status) === 'error').length,
      total: cs.length,
    };
  };

  const act = async (c: Container, action: 'stop' | 'restart') => {
    if (action === 'stop' && !confirm(t('st.confirmStop', { name: c.name }))) return;
    setBusy(`${action}:${c.allocationId}`);
    try {
      const path = action === 'stop' ? '/api/containers/{id}/stop' : '/api/containers/{id}/restart';
      const { data, error } = await api.POST(path, { params: { path: { id: ref(c) } } });
      if (error) toastError(error);
      else {
        if (data) mutate((cs) => cs?.map((x) => (x.allocationId === data.allocationId ? data : x)));
        toast(action === 'stop' ? t('st.stopped') : t('st.restarted'));
      }
    } finally {
      setBusy(null);
    }
  };

  const columns: Column<Container>[] = [
    {
      header: t('st.image'),
      cell: (c) => (
        <>
          <div class="font-medium font-mono text-xs sm:text-sm">{c.image}</div>
          <div class="text-xs text-gray-500">{c.name}</div>
        </>
      ),
    },
    {
      header: t('st.state'),
      cell: (c) => (
        <span data-testid="container-status">
          <StatusDot tone={toneOf(c.status)} label={c.status} />
        </span>
      ),
    },
    {
      header: t('st.resource'),
      class: 'text-xs',
      cell: (c) => <span class="badge bg-gray-100 dark:bg-gray-800">{c.resourceId}</span>,
    },
    {
      header: t('st.cpuMem'),
      class: 'tabular-nums',
      cell: (c) => (
        <>
          {t('res.cores', { n: fmtNumber(c.resources.cpu, 2) })} / {fmtNumber(c.resources.memory, 2)} GB
          {/* A run on a peer ("remote") is sampled there, through this node. */}
          <Show when={(c.status === 'running' || c.status === 'remote') && c.id}>
            <LiveUsage id={c.id} tick={tick()} />
          </Show>
        </>
      ),
    },
    { header: t('st.created'), class: 'text-xs', cell: (c) => fmtTime(c.createdAt, locale()) },
    {
      header: t('common.actions'),
      cell: (c) => (
        <div class="flex gap-1">
          <IconButton
            icon="i-carbon-document"
            label={t('st.logs')}
            name={c.name}
            disabled={!c.id}
            onClick={() => setLogsOf(c)}
          />
          {/* Restart also starts a stopped container again (booked again); a run placed on a peer
              is stopped and restarted there. */}
          <Show when={canOperate()}>
            <IconButton
              icon="i-carbon-restart"
              label={t('st.restart')}
              name={c.name}
              disabled={busy() !== null}
              onClick={() => act(c, 'restart')}
            />
          </Show>
          <Show when={canOperate() && c.allocation !== 'released'}>
            <IconButton
              icon="i-carbon-stop-outline"
              class="text-red-600"
              label={t('st.stop')}
              name={c.name}
              disabled={busy() !== null}
              onClick={() => act(c, 'stop')}
            />
          </Show>
        </div>
      ),
    },
  ];

  return (
    <section aria-labelledby="st-title">
      <PageHeader id="st-title" title={t('st.title')}>
        <span class="text-sm" data-testid="live-indicator" data-live={live() ? 'on' : 'off'}>
          <StatusDot
            tone={live() ? 'ok' : 'idle'}
            label={`${t('st.live')}: ${live() ? t('st.liveOn') : t('st.liveOff')}`}
          />
        </span>
        <label class="inline-flex items-center gap-2 text-sm cursor-pointer">
          <input
            type="checkbox"
            role="switch"
            class="w-4 h-4"
            checked={auto()}
            aria-checked={auto()}
            onChange={(e) => {
              setAuto(e.currentTarget.checked);
              schedule();
            }}
          />
          {t('st.autoRefresh')}
        </label>
        <label class="sr-only" for="st-interval">
          {t('st.interval')}
        </label>
        <select
          id="st-interval"
          class="input w-auto py-1"
          value={String(interval())}
          disabled={!auto()}
          onChange={(e) => {
            setIntervalSec(Number(e.currentTarget.value));
            schedule();
          }}
        >
          <option value="10">{t('st.s10')}</option>
          <option value="30">{t('st.s30')}</option>
          <option value="60">{t('st.m1')}</option>
        </select>
        <RefreshButton onClick={reload} />
      </PageHeader>
      <StatGrid
        stats={[
          {
            label: t('st.running'),
            value: stats().running,
            icon: 'i-carbon-play-outline',
            tone: 'text-green-600',
          },
          {
            label: t('st.warning'),
            value: stats().warning,
            icon: 'i-carbon-warning-alt',
            tone: 'text-yellow-500',
          },
          { label: t('st.error'), value: stats().error, icon: 'i-carbon-error', tone: 'text-red-600' },
          { label: t('st.total'), value: stats().total, icon: 'i-carbon-container-software' },
        ]}
      />
      {/* Its own boundary: the container table does not wait for the application statuses. */}
      <Suspense fallback={<div class="h-24" />}>
        <AppStatusTable tick={tick()} />
      </Suspense>
      <DataTable
        title={t('st.containers')}
        label={t('st.containers')}
        class="mb-4"
        columns={columns}
        rows={list()}
        loading={containers.loading}
        error={containers.error}
        rowAttrs={(c) => ({ 'data-testid': 'container-row', 'data-id': c.id, 'data-status': c.status })}
      />
      <div class="card">
        <h2 class="text-sm font-semibold mb-2">{t('st.quota')}</h2>
        <Show when={quotaNow()}>
          {(q) => (
            <>
              <dl class="grid grid-cols-3 gap-2 text-sm mb-2" data-testid="quota-summary">
                <div>
                  <dt class="text-gray-500">{t('st.quotaCpu')}</dt>
                  <dd class="tabular-nums">
                    {fmtNumber(q().current.cpu, 2)} / {fmtNumber(q().limits.cpu, 2)}
                  </dd>
                </div>
                <div>
                  <dt class="text-gray-500">{t('st.quotaMem')}</dt>
                  <dd class="tabular-nums">
                    {fmtNumber(q().current.memory, 2)} / {fmtNumber(q().limits.memory, 2)} GB
                  </dd>
                </div>
                <div>
                  <dt class="text-gray-500">{t('st.quotaGpu')}</dt>
                  <dd class="tabular-nums">
                    {q().current.gpu} / {q().limits.gpu}
                  </dd>
                </div>
              </dl>
              <Suspense fallback={<div class="h-48" />}>
                <QuotaGauges utilization={q().utilization} />
              </Suspense>
              <h3 class="text-sm font-semibold mt-3 mb-1">{t('st.usage')}</h3>
              <Suspense fallback={<div class="h-56" />}>
                <UsageChart samples={usageSamples()} />
              </Suspense>
            </>
          )}
        </Show>
      </div>
      <Show when={logsOf()}>{(c) => <LogViewer container={c()} onClose={() => setLogsOf(null)} />}</Show>
    </section>
  );
}
