/**
 * The application status table of the Status page (GET /api/status): status, uptime, CPU and
 * memory bars, network rate, nodes, health, and logs / restart / stop. The page owns refreshing
 * (timer, refresh button, /api/events): each change of `tick` re-reads the list, so one event
 * stream serves the whole page.
 */
import { createEffect, createResource, createSignal, For, on, Show } from 'solid-js';
import { api, asApiError, roleAtLeast, session } from '../api/client';
import type { paths } from '../api/schema';
import { fmtBytes, fmtNumber } from '../lib/format';
import { type MessageKey, t } from '../lib/i18n';
import { latest } from '../lib/latest';
import { LogViewer } from './LogViewer';
import { type Column, DataTable } from './page';
import { IconButton, StatusDot, toast, toastError } from './ui';

export type ApplicationStatus =
  paths['/api/status']['get']['responses'][200]['content']['application/json'][number];
type AppState = ApplicationStatus['status'];

const TONE: Record<AppState, 'ok' | 'warn' | 'error' | 'idle' | 'busy'> = {
  running: 'ok',
  warning: 'warn',
  error: 'error',
  deploying: 'busy',
  stopped: 'idle',
};
/** Tolerant of a status the server may add later: it shows as a warning, never crashes the row. */
export const appToneOf = (s: string) => TONE[s as AppState] ?? 'warn';

async function fetchStatuses(): Promise<ApplicationStatus[]> {
  const { data, error } = await api.GET('/api/status');
  if (error) throw asApiError(error);
  return data ?? [];
}

/** A 0–100 % bar; the text shows the real figure (CPU can pass 100 % of what was allotted). */
function Meter(props: { label: string; value: number; testId: string }) {
  const pct = () => Math.max(0, Math.min(100, props.value));
  const color = () => (pct() >= 90 ? 'bg-red-500' : pct() >= 70 ? 'bg-yellow-500' : 'bg-green-500');
  return (
    <div class="flex items-center gap-2 min-w-28">
      <div
        role="progressbar"
        aria-label={props.label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(pct() * 10) / 10}
        aria-valuetext={`${fmtNumber(props.value)}%`}
        data-testid={props.testId}
        class="h-1.5 flex-1 rounded bg-gray-200 dark:bg-gray-700 overflow-hidden"
      >
        <div class={`h-full ${color()}`} style={{ width: `${pct()}%` }} />
      </div>
      <span class="text-xs tabular-nums w-12 text-right">{fmtNumber(props.value)}%</span>
    </div>
  );
}

export function AppStatusTable(props: { tick: number }) {
  const [statuses, { refetch }] = createResource(fetchStatuses);
  const [logsOf, setLogsOf] = createSignal<ApplicationStatus | null>(null);
  const [busy, setBusy] = createSignal<string | null>(null);
  const canOperate = () => roleAtLeast(session()?.user.role, 'operator');
  // Never the suspending accessor: re-reads run outside navigations (see ../lib/latest.ts).
  const list = () => latest(statuses, [] as ApplicationStatus[]);

  createEffect(
    on(
      () => props.tick,
      () => void refetch(),
      { defer: true },
    ),
  );

  const act = async (a: ApplicationStatus, action: 'stop' | 'restart') => {
    if (action === 'stop' && !confirm(t('as.confirmStop', { name: a.name }))) return;
    setBusy(a.id);
    try {
      const path = action === 'stop' ? '/api/applications/{id}/stop' : '/api/applications/{id}/restart';
      const { error } = await api.POST(path, { params: { path: { id: a.id } } });
      if (error) toastError(error);
      else {
        toast(action === 'stop' ? t('as.stopped') : t('as.restarted'));
        void refetch();
      }
    } finally {
      setBusy(null);
    }
  };

  const columns: Column<ApplicationStatus>[] = [
    {
      header: t('st.name'),
      cell: (a) => (
        <>
          <div class="font-medium">{a.name}</div>
          <div class="text-xs text-gray-500 tabular-nums">
            {t('as.instances', { n: a.instances, d: a.desiredInstances })}
          </div>
        </>
      ),
    },
    {
      header: t('st.state'),
      cell: (a) => (
        <>
          <span data-testid="app-status" data-tone={appToneOf(a.status)}>
            <StatusDot tone={appToneOf(a.status)} label={t(`as.status.${a.status}` as MessageKey)} />
          </span>
          <Show when={a.statusReason}>
            <div class="text-xs text-gray-500 max-w-56 truncate" title={a.statusReason}>
              {a.statusReason}
            </div>
          </Show>
        </>
      ),
    },
    { header: t('as.uptime'), class: 'text-xs tabular-nums whitespace-nowrap', cell: (a) => a.uptime || '—' },
    {
      header: t('as.cpu'),
      cell: (a) => <Meter label={`${t('as.cpu')} ${a.name}`} value={a.cpu} testId="app-cpu" />,
    },
    {
      header: t('as.memory'),
      cell: (a) => <Meter label={`${t('as.memory')} ${a.name}`} value={a.memory} testId="app-memory" />,
    },
    {
      header: t('as.network'),
      class: 'text-xs tabular-nums whitespace-nowrap',
      cell: (a) => `${fmtBytes(a.network)}/s`,
    },
    {
      header: t('as.nodes'),
      class: 'text-xs',
      cell: (a) => (
        <div class="flex flex-wrap gap-1">
          <For each={a.runningOn} fallback={<span class="text-gray-400">—</span>}>
            {(n) => <span class="badge bg-gray-100 dark:bg-gray-800">{n}</span>}
          </For>
        </div>
      ),
    },
    {
      header: t('as.health'),
      class: 'text-xs',
      cell: (a) => {
        // The failing checks say why: shown as the tooltip and to screen readers.
        const failing = () =>
          a.healthChecks
            .filter((c) => c.status === 'fail')
            .map((c) => `${c.name}: ${c.message ?? ''}`.trim())
            .join('\n');
        return (
          <span
            data-testid="app-health"
            data-health={a.health}
            title={failing() || undefined}
            class={`inline-flex items-center gap-1 ${a.health === 'unhealthy' ? 'text-yellow-600 dark:text-yellow-400' : ''}`}
          >
            <Show when={a.health === 'unhealthy'}>
              <span class="i-carbon-warning-alt" aria-hidden="true" />
            </Show>
            {t(`as.health.${a.health}` as MessageKey)}
          </span>
        );
      },
    },
    {
      header: t('common.actions'),
      cell: (a) => (
        <div class="flex gap-1">
          <IconButton
            icon="i-carbon-document"
            label={t('st.logs')}
            name={a.name}
            onClick={() => setLogsOf(a)}
          />
          <Show when={canOperate()}>
            <IconButton
              icon="i-carbon-restart"
              label={t('st.restart')}
              name={a.name}
              disabled={busy() !== null || a.status === 'deploying'}
              onClick={() => act(a, 'restart')}
            />
            <IconButton
              icon="i-carbon-stop-outline"
              class="text-red-600"
              label={t('st.stop')}
              name={a.name}
              disabled={busy() !== null || a.status === 'stopped'}
              onClick={() => act(a, 'stop')}
            />
          </Show>
        </div>
      ),
    },
  ];

  return (
    <>
      <DataTable
        title={t('as.title')}
        label={t('as.title')}
        empty={t('as.empty')}
        class="mb-4"
        columns={columns}
        rows={list()}
        loading={statuses.loading}
        error={statuses.error}
        rowAttrs={(a) => ({ 'data-testid': 'app-row', 'data-id': a.id, 'data-status': a.status })}
      />
      <Show when={logsOf()}>
        {(a) => <LogViewer application={{ id: a().id, name: a().name }} onClose={() => setLogsOf(null)} />}
      </Show>
    </>
  );
}
