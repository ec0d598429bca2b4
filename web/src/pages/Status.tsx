/**
 * 运行状态: stat cards, the container table (live: /api/events pushes changes, plus an optional
 * auto refresh), the log viewer, and the quota summary (GET /resources) as lazily loaded gauges.
 */
import {
  createEffect,
  createResource,
  createSignal,
  For,
  lazy,
  onCleanup,
  onMount,
  Show,
  Suspense,
} from 'solid-js';
import { type ApiError, api, asApiError, roleAtLeast, session } from '../api/client';
import type { paths } from '../api/schema';
import { openSse } from '../api/sse';
import { LogViewer } from '../components/LogViewer';
import { StatCard, StatusDot, toast } from '../components/ui';
import { fmtBytes, fmtNumber, fmtTime } from '../lib/format';
import { locale, t } from '../lib/i18n';

export type Container =
  paths['/api/containers']['get']['responses'][200]['content']['application/json']['items'][number];
type Quota = paths['/resources']['get']['responses'][200]['content']['application/json'];

const QuotaGauges = lazy(() => import('../components/QuotaGauges'));

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
  return data;
}

const ref = (c: Container) => c.id || c.allocationId;

/**
 * Live CPU % and memory of a running container (GET /api/containers/{id}/stats), re-read on each
 * refresh. A plain signal, not a resource, so it never suspends the page; failures show nothing.
 */
function LiveUsage(props: { id: string; tick: number }) {
  type Stats = paths['/api/containers/{id}/stats']['get']['responses'][200]['content']['application/json'];
  const [stats, setStats] = createSignal<Stats | undefined>();
  createEffect(() => {
    const id = props.id;
    void props.tick;
    api
      .GET('/api/containers/{id}/stats', { params: { path: { id } } })
      .then(({ data }) => data && setStats(data))
      .catch(() => {});
  });
  return (
    <Show when={stats()}>
      {(s) => (
        <div class="text-xs text-gray-500" data-testid="live-usage">
          CPU {fmtNumber(s().cpuPercent, 1)}% · {fmtBytes(s().memoryBytes)}
        </div>
      )}
    </Show>
  );
}

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
  // Live push: any run or resource event re-reads the list (coalesced).
  let pending: ReturnType<typeof setTimeout> | undefined;
  onMount(() => {
    schedule();
    const close = openSse('/api/events', {
      onOpen: () => setLive(true),
      onError: () => setLive(false),
      onMessage: (m) => {
        if (!m.event.startsWith('run:') && m.event !== 'resource:changed' && m.event !== 'reset') return;
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

  const stats = () => {
    const cs = containers() ?? [];
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
      if (error) toast(`${t('common.error')}: ${(error as ApiError).details}`, 'error');
      else {
        if (data) mutate((cs) => cs?.map((x) => (x.allocationId === data.allocationId ? data : x)));
        toast(action === 'stop' ? t('st.stopped') : t('st.restarted'));
      }
    } finally {
      setBusy(null);
    }
  };

  return (
    <section aria-labelledby="st-title">
      <div class="flex flex-wrap items-center gap-2 sm:gap-3 mb-4">
        <h1 id="st-title" class="text-xl font-semibold mr-auto">
          {t('st.title')}
        </h1>
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
        <button type="button" class="btn-ghost" onClick={reload}>
          <span class="i-carbon-renew" aria-hidden="true" />
          {t('common.refresh')}
        </button>
      </div>
      <div class="grid grid-cols-2 lg:grid-cols-4 gap-3 mb-4">
        <StatCard
          label={t('st.running')}
          value={stats().running}
          icon="i-carbon-play-outline"
          tone="text-green-600"
        />
        <StatCard
          label={t('st.warning')}
          value={stats().warning}
          icon="i-carbon-warning-alt"
          tone="text-yellow-500"
        />
        <StatCard label={t('st.error')} value={stats().error} icon="i-carbon-error" tone="text-red-600" />
        <StatCard label={t('st.total')} value={stats().total} icon="i-carbon-container-software" />
      </div>
      <div class="card p-0 overflow-x-auto mb-4">
        <h2 class="text-sm font-semibold px-3 pt-3 pb-1">{t('st.containers')}</h2>
        <Show when={containers.error}>
          <p class="field-error px-3" role="alert">
            {t('common.error')}: {asApiError(containers.error).details}
          </p>
        </Show>
        <table class="w-full" aria-label={t('st.containers')}>
          <thead>
            <tr>
              <th class="th" scope="col">
                {t('st.image')}
              </th>
              <th class="th" scope="col">
                {t('st.state')}
              </th>
              <th class="th" scope="col">
                {t('st.resource')}
              </th>
              <th class="th" scope="col">
                {t('st.cpuMem')}
              </th>
              <th class="th" scope="col">
                {t('st.created')}
              </th>
              <th class="th" scope="col">
                {t('common.actions')}
              </th>
            </tr>
          </thead>
          <tbody>
            <Show when={!containers.loading && (containers() ?? []).length === 0}>
              <tr>
                <td class="td text-gray-500" colSpan={6}>
                  {t('common.empty')}
                </td>
              </tr>
            </Show>
            <For each={containers() ?? []}>
              {(c) => (
                <tr data-testid="container-row" data-id={c.id} data-status={c.status}>
                  <td class="td">
                    <div class="font-medium font-mono text-xs sm:text-sm">{c.image}</div>
                    <div class="text-xs text-gray-500">{c.name}</div>
                  </td>
                  <td class="td" data-testid="container-status">
                    <StatusDot tone={toneOf(c.status)} label={c.status} />
                  </td>
                  <td class="td text-xs">
                    <span class="badge bg-gray-100 dark:bg-gray-800">{c.resourceId}</span>
                  </td>
                  <td class="td tabular-nums">
                    {t('res.cores', { n: fmtNumber(c.resources.cpu, 2) })} /{' '}
                    {fmtNumber(c.resources.memory, 2)} GB
                    <Show when={c.status === 'running' && c.id}>
                      <LiveUsage id={c.id} tick={tick()} />
                    </Show>
                  </td>
                  <td class="td text-xs">{fmtTime(c.createdAt, locale())}</td>
                  <td class="td">
                    <div class="flex gap-1">
                      <button
                        type="button"
                        class="btn-icon"
                        aria-label={`${t('st.logs')} ${c.name}`}
                        title={t('st.logs')}
                        disabled={!c.id}
                        onClick={() => setLogsOf(c)}
                      >
                        <span class="i-carbon-document" aria-hidden="true" />
                      </button>
                      <Show when={canOperate() && c.allocation !== 'released'}>
                        <button
                          type="button"
                          class="btn-icon"
                          aria-label={`${t('st.restart')} ${c.name}`}
                          title={t('st.restart')}
                          disabled={busy() !== null}
                          onClick={() => act(c, 'restart')}
                        >
                          <span class="i-carbon-restart" aria-hidden="true" />
                        </button>
                        <button
                          type="button"
                          class="btn-icon text-red-600"
                          aria-label={`${t('st.stop')} ${c.name}`}
                          title={t('st.stop')}
                          disabled={busy() !== null}
                          onClick={() => act(c, 'stop')}
                        >
                          <span class="i-carbon-stop-outline" aria-hidden="true" />
                        </button>
                      </Show>
                    </div>
                  </td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
      <div class="card">
        <h2 class="text-sm font-semibold mb-2">{t('st.quota')}</h2>
        <Show when={quota()}>
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
            </>
          )}
        </Show>
      </div>
      <Show when={logsOf()}>{(c) => <LogViewer container={c()} onClose={() => setLogsOf(null)} />}</Show>
    </section>
  );
}
