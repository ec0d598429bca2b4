/** 算力资源接入管理: stat cards, the resource table, add/edit dialog with test connection. */
import { createResource, createSignal, For, Show } from 'solid-js';
import { type ApiError, api, asApiError, roleAtLeast, session } from '../api/client';
import type { paths } from '../api/schema';
import { ResourceDialog } from '../components/ResourceDialog';
import { StatCard, StatusDot, toast } from '../components/ui';
import { fmtGb, fmtNumber } from '../lib/format';
import { type MessageKey, t } from '../lib/i18n';

export type Resource =
  paths['/api/resources']['get']['responses'][200]['content']['application/json'][number];

const TYPE_BADGE: Record<string, string> = {
  docker: 'bg-sky-100 text-sky-800 dark:bg-sky-900 dark:text-sky-200',
  kubernetes: 'bg-indigo-100 text-indigo-800 dark:bg-indigo-900 dark:text-indigo-200',
  vm: 'bg-amber-100 text-amber-800 dark:bg-amber-900 dark:text-amber-200',
};
const STATUS_TONE = { connected: 'ok', disconnected: 'idle', unreachable: 'warn', error: 'error' } as const;

async function fetchResources(): Promise<Resource[]> {
  const { data, error } = await api.GET('/api/resources');
  if (error) throw asApiError(error);
  return data ?? [];
}

export default function ResourcesPage() {
  const [list, { refetch, mutate }] = createResource(fetchResources);
  const [dialog, setDialog] = createSignal<{ editing?: Resource } | null>(null);
  const canEdit = () => roleAtLeast(session()?.user.role, 'admin');

  const stats = () => {
    const rs = list() ?? [];
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
    if (error) toast(`${t('common.error')}: ${(error as ApiError).details}`, 'error');
    else {
      toast(t('res.deleted'));
      void refetch();
    }
  };
  const refresh = async (r: Resource) => {
    const { data, error } = await api.POST('/api/resources/{id}/refresh', {
      params: { path: { id: r.id } },
    });
    if (error) toast(`${t('common.error')}: ${(error as ApiError).details}`, 'error');
    else if (data) {
      mutate((rs) => rs?.map((x) => (x.id === data.id ? data : x)));
      toast(t('res.refreshed'));
    }
  };

  return (
    <section aria-labelledby="res-title">
      <div class="flex flex-wrap items-center gap-2 mb-4">
        <h1 id="res-title" class="text-xl font-semibold mr-auto">
          {t('res.title')}
        </h1>
        <button type="button" class="btn-ghost" onClick={() => refetch()}>
          <span class="i-carbon-renew" aria-hidden="true" />
          {t('common.refresh')}
        </button>
        <Show when={canEdit()}>
          <button type="button" class="btn-primary" onClick={() => setDialog({})}>
            <span class="i-carbon-add" aria-hidden="true" />
            {t('res.add')}
          </button>
        </Show>
      </div>
      <div class="grid grid-cols-2 lg:grid-cols-4 gap-3 mb-4">
        <StatCard label={t('res.total')} value={stats().total} icon="i-carbon-data-center" />
        <StatCard
          label={t('res.online')}
          value={stats().online}
          icon="i-carbon-checkmark-outline"
          tone="text-green-600"
        />
        <StatCard label={t('res.cpu')} value={fmtNumber(stats().cpu)} icon="i-carbon-chip" />
        <StatCard label={t('res.storage')} value={fmtGb(stats().storage)} icon="i-carbon-data-base" />
      </div>
      <div class="card p-0 overflow-x-auto">
        <h2 class="text-sm font-semibold px-3 pt-3 pb-1">{t('res.list')}</h2>
        <Show when={list.error}>
          <p class="field-error px-3" role="alert">
            {t('common.error')}: {asApiError(list.error).details}
          </p>
        </Show>
        <table class="w-full" aria-labelledby="res-title">
          <thead>
            <tr>
              <th class="th" scope="col">
                {t('res.name')}
              </th>
              <th class="th" scope="col">
                {t('res.type')}
              </th>
              <th class="th" scope="col">
                {t('res.status')}
              </th>
              <th class="th" scope="col">
                CPU
              </th>
              <th class="th" scope="col">
                {t('res.memory')}
              </th>
              <th class="th" scope="col">
                {t('common.actions')}
              </th>
            </tr>
          </thead>
          <tbody>
            <Show when={!list.loading && (list() ?? []).length === 0}>
              <tr>
                <td class="td text-gray-500" colSpan={6}>
                  {t('common.empty')}
                </td>
              </tr>
            </Show>
            <For each={list() ?? []}>
              {(r) => (
                <tr data-testid="resource-row" data-name={r.name}>
                  <td class="td">
                    <div class="font-medium">{r.name}</div>
                    <div class="text-xs text-gray-500 truncate max-w-60" title={r.url}>
                      {r.url}
                    </div>
                  </td>
                  <td class="td">
                    <span class={`badge ${TYPE_BADGE[r.type] ?? ''}`}>{r.type}</span>
                    <Show when={r.builtin}>
                      <span class="badge ml-1 bg-gray-100 dark:bg-gray-800">{t('res.builtin')}</span>
                    </Show>
                  </td>
                  <td class="td" data-testid="resource-status" title={r.statusReason ?? ''}>
                    <StatusDot
                      tone={STATUS_TONE[r.status]}
                      label={t(`res.status.${r.status}` as MessageKey)}
                    />
                  </td>
                  <td class="td tabular-nums">
                    {fmtNumber(r.cpu.used)} / {t('res.cores', { n: fmtNumber(r.cpu.total) })}
                  </td>
                  <td class="td tabular-nums">
                    {fmtNumber(r.memory.used)} / {fmtGb(r.memory.total)}
                  </td>
                  <td class="td">
                    <div class="flex gap-1">
                      <Show when={canEdit()}>
                        <button
                          type="button"
                          class="btn-icon"
                          aria-label={`${t('common.edit')} ${r.name}`}
                          title={t('common.edit')}
                          onClick={() => setDialog({ editing: r })}
                        >
                          <span class="i-carbon-edit" aria-hidden="true" />
                        </button>
                        <Show when={!r.builtin}>
                          <button
                            type="button"
                            class="btn-icon"
                            aria-label={`${t('common.delete')} ${r.name}`}
                            title={t('common.delete')}
                            onClick={() => remove(r)}
                          >
                            <span class="i-carbon-trash-can" aria-hidden="true" />
                          </button>
                        </Show>
                      </Show>
                      <button
                        type="button"
                        class="btn-icon"
                        aria-label={`${t('common.refresh')} ${r.name}`}
                        title={t('common.refresh')}
                        onClick={() => refresh(r)}
                      >
                        <span class="i-carbon-renew" aria-hidden="true" />
                      </button>
                    </div>
                  </td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
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
