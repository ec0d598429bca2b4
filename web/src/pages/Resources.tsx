/** 算力资源接入管理: stat cards, the resource table, add/edit dialog with test connection. */
import { createResource, createSignal, Show } from 'solid-js';
import { api, asApiError, roleAtLeast, session } from '../api/client';
import type { paths } from '../api/schema';
import { AddButton, type Column, DataTable, PageHeader, RefreshButton, StatGrid } from '../components/page';
import { ResourceDialog } from '../components/ResourceDialog';
import { IconButton, StatusDot, toast, toastError } from '../components/ui';
import { fmtBytes, fmtGb, fmtNumber, fmtTime } from '../lib/format';
import { locale, type MessageKey, t } from '../lib/i18n';
import { latest } from '../lib/latest';

export type Resource =
  paths['/api/resources']['get']['responses'][200]['content']['application/json'][number];

const TYPE_BADGE: Record<string, string> = {
  docker: 'bg-sky-100 text-sky-800 dark:bg-sky-900 dark:text-sky-200',
  kubernetes: 'bg-indigo-100 text-indigo-800 dark:bg-indigo-900 dark:text-indigo-200',
  vm: 'bg-amber-100 text-amber-800 dark:bg-amber-900 dark:text-amber-200',
};
const STATUS_TONE = { connected: 'ok', disconnected: 'idle', unreachable: 'warn', error: 'error' } as const;
const GiB = 2 ** 30;

/** What the engine measured (metrics.k8s.io), under the reserved figure; absent without metrics. */
function Measured(props: { r: Resource; kind: 'cpu' | 'memory' }) {
  return (
    <Show when={props.r.measured}>
      {(m) => (
        <div
          class="text-xs text-gray-500"
          data-testid={`resource-measured-${props.kind}`}
          title={t('res.measuredHint', { count: m().count, at: fmtTime(m().at, locale()) })}
        >
          {t('res.measured', {
            v:
              props.kind === 'cpu'
                ? t('res.cores', { n: fmtNumber(m().cpu, 2) })
                : fmtBytes(Math.round(m().memory * GiB)),
          })}
        </div>
      )}
    </Show>
  );
}

async function fetchResources(): Promise<Resource[]> {
  const { data, error } = await api.GET('/api/resources');
  if (error) throw asApiError(error);
  return data ?? [];
}

export default function ResourcesPage() {
  const [list, { refetch, mutate }] = createResource(fetchResources);
  const [dialog, setDialog] = createSignal<{ editing?: Resource } | null>(null);
  const canEdit = () => roleAtLeast(session()?.user.role, 'admin');
  // Never the suspending accessor: re-reads run outside navigations (see ../lib/latest.ts).
  const rows = () => latest(list, [] as Resource[]);

  const stats = () => {
    const rs = rows();
    return {
      total: rs.length,
      online: rs.filter((r) => r.status === 'connected').length,
      cpu: rs.reduce((a, r) => a + r.cpu.total, 0),
      storage: rs.reduce((a, r) => a + r.storage.total, 0),
    };
  };

  const remove = async (r: Resource) => {
    if (!confirm(t('common.confirmDelete', { name: r.name }))) return;
    const { error } = await api.DELETE('/api/resources/{id}', { params: { path: { id: r.id } } });
    if (error) toastError(error);
    else {
      toast(t('res.deleted'));
      void refetch();
    }
  };
  const refresh = async (r: Resource) => {
    const { data, error } = await api.POST('/api/resources/{id}/refresh', {
      params: { path: { id: r.id } },
    });
    if (error) toastError(error);
    else if (data) {
      mutate((rs) => rs?.map((x) => (x.id === data.id ? data : x)));
      toast(t('res.refreshed'));
    }
  };

  const columns: Column<Resource>[] = [
    {
      header: t('res.name'),
      cell: (r) => (
        <>
          <div class="font-medium">{r.name}</div>
          <div class="text-xs text-gray-500 truncate max-w-60" title={r.url}>
            {r.url}
          </div>
        </>
      ),
    },
    {
      header: t('res.type'),
      cell: (r) => (
        <>
          <span class={`badge ${TYPE_BADGE[r.type] ?? ''}`}>{r.type}</span>
          <Show when={r.builtin}>
            <span class="badge ml-1 bg-gray-100 dark:bg-gray-800">{t('res.builtin')}</span>
          </Show>
        </>
      ),
    },
    {
      header: t('res.status'),
      cell: (r) => (
        <span data-testid="resource-status" title={r.statusReason ?? ''}>
          <StatusDot tone={STATUS_TONE[r.status]} label={t(`res.status.${r.status}` as MessageKey)} />
        </span>
      ),
    },
    {
      header: 'CPU',
      class: 'tabular-nums',
      cell: (r) => (
        <>
          {fmtNumber(r.cpu.used)} / {t('res.cores', { n: fmtNumber(r.cpu.total) })}
          <Measured r={r} kind="cpu" />
        </>
      ),
    },
    {
      header: t('res.memory'),
      class: 'tabular-nums',
      cell: (r) => (
        <>
          {fmtNumber(r.memory.used)} / {fmtGb(r.memory.total)}
          <Measured r={r} kind="memory" />
        </>
      ),
    },
    {
      header: t('common.actions'),
      cell: (r) => (
        <div class="flex gap-1">
          <Show when={canEdit()}>
            <IconButton
              icon="i-carbon-edit"
              label={t('common.edit')}
              name={r.name}
              onClick={() => setDialog({ editing: r })}
            />
            <Show when={!r.builtin}>
              <IconButton
                icon="i-carbon-trash-can"
                label={t('common.delete')}
                name={r.name}
                onClick={() => remove(r)}
              />
            </Show>
          </Show>
          <IconButton
            icon="i-carbon-renew"
            label={t('common.refresh')}
            name={r.name}
            onClick={() => refresh(r)}
          />
        </div>
      ),
    },
  ];

  return (
    <section aria-labelledby="res-title">
      <PageHeader id="res-title" title={t('res.title')}>
        <RefreshButton onClick={() => refetch()} />
        <Show when={canEdit()}>
          <AddButton label={t('res.add')} onClick={() => setDialog({})} />
        </Show>
      </PageHeader>
      <StatGrid
        stats={[
          { label: t('res.total'), value: stats().total, icon: 'i-carbon-data-center' },
          {
            label: t('res.online'),
            value: stats().online,
            icon: 'i-carbon-checkmark-outline',
            tone: 'text-green-600',
          },
          { label: t('res.cpu'), value: fmtNumber(stats().cpu), icon: 'i-carbon-chip' },
          { label: t('res.storage'), value: fmtGb(stats().storage), icon: 'i-carbon-data-base' },
        ]}
      />
      <DataTable
        title={t('res.list')}
        labelledBy="res-title"
        columns={columns}
        rows={rows()}
        loading={list.loading}
        error={list.error}
        rowAttrs={(r) => ({ 'data-testid': 'resource-row', 'data-name': r.name })}
      />
      <Show when={dialog()}>
        {(d) => (
          <ResourceDialog
            editing={d().editing}
            onClose={() => setDialog(null)}
            onSaved={() => {
              setDialog(null);
              toast(t('res.saved'));
              void refetch();
            }}
          />
        )}
      </Show>
    </section>
  );
}
