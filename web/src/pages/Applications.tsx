/**
 * 应用管理: stat cards, application cards with deploy / stop / restart / edit / delete, the
 * create dialog (quick import from Git + advanced configuration), and live updates: the event
 * stream re-reads the list on application and run events, and `application:*` events (build
 * output, deploy steps) are shown as lines in a progress panel.
 */
import { createResource, createSignal, For, onCleanup, onMount, Show } from 'solid-js';
import { api, asApiError, roleAtLeast, session } from '../api/client';
import { openSse } from '../api/sse';
import { ApplicationDialog } from '../components/ApplicationDialog';
import { AddButton, PageHeader, RefreshButton, StatGrid } from '../components/page';
import { IconButton, StatusDot, toast, toastError } from '../components/ui';
import { affectsApplications, type ProgressLine, progressLinesOf } from '../lib/app-events';
import type { Application } from '../lib/app-form';
import { fmtNumber, fmtTime } from '../lib/format';
import { locale, type MessageKey, t } from '../lib/i18n';
import { latest } from '../lib/latest';

const MAX_LINES = 300;

const STATUS_TONE = {
  running: 'ok',
  deploying: 'warn',
  error: 'error',
  stopped: 'idle',
  idle: 'idle',
} as const;

async function fetchApplications(): Promise<Application[]> {
  const { data, error } = await api.GET('/api/applications');
  if (error) throw asApiError(error);
  return data ?? [];
}

type Action = 'deploy' | 'stop' | 'restart';
const ACTION_PATH = {
  deploy: '/api/applications/{id}/deploy',
  stop: '/api/applications/{id}/stop',
  restart: '/api/applications/{id}/restart',
} as const;
const ACTION_DONE: Record<Action, MessageKey> = {
  deploy: 'app.deployed',
  stop: 'app.stoppedToast',
  restart: 'app.restarted',
};

export default function ApplicationsPage() {
  const [apps, { refetch, mutate }] = createResource(fetchApplications);
  const [dialog, setDialog] = createSignal<{ editing?: Application } | null>(null);
  const [busy, setBusy] = createSignal<Record<string, Action>>({});
  const [lines, setLines] = createSignal<ProgressLine[]>([]);
  const canOperate = () => roleAtLeast(session()?.user.role, 'operator');

  let pending: ReturnType<typeof setTimeout> | undefined;
  onMount(() => {
    const close = openSse('/api/events', {
      onMessage: (m) => {
        const added = progressLinesOf(m);
        if (added.length) setLines((ls) => [...ls, ...added].slice(-MAX_LINES));
        if (!affectsApplications(m.event)) return;
        clearTimeout(pending);
        pending = setTimeout(() => void refetch(), 150);
      },
    });
    onCleanup(() => {
      close();
      clearTimeout(pending);
    });
  });

  // The last list while a live re-read runs; never suspends on a re-read (see ../lib/latest.ts).
  const list = () => latest(apps, [] as Application[]);
  const count = (...s: Application['status'][]) => list().filter((a) => s.includes(a.status)).length;
  const replace = (a: Application) => mutate((as) => as?.map((x) => (x.id === a.id ? a : x)));

  const act = async (a: Application, action: Action) => {
    if (action === 'stop' && !confirm(t('app.confirmStop', { name: a.name }))) return;
    setBusy((b) => ({ ...b, [a.id]: action }));
    // Show the transition at once; the answer (or the event stream) brings the real status.
    if (action !== 'stop') replace({ ...a, status: 'deploying' });
    try {
      const { data, error } = await api.POST(ACTION_PATH[action], { params: { path: { id: a.id } } });
      if (error) {
        toastError(error);
        void refetch();
      } else if (data) {
        replace(data);
        toast(t(ACTION_DONE[action]));
      }
    } finally {
      setBusy(({ [a.id]: _, ...b }) => b);
    }
  };
  const remove = async (a: Application) => {
    if (!confirm(t('common.confirmDelete', { name: a.name }))) return;
    const { error } = await api.DELETE('/api/applications/{id}', { params: { path: { id: a.id } } });
    if (error) toastError(error);
    else {
      toast(t('app.deleted'));
      mutate((as) => as?.filter((x) => x.id !== a.id));
    }
  };

  const nameOf = (id: string | undefined) => list().find((a) => a.id === id)?.name ?? id ?? '';

  return (
    <section aria-labelledby="app-title">
      <PageHeader id="app-title" title={t('app.heading')}>
        <RefreshButton onClick={() => refetch()} />
        <Show when={canOperate()}>
          <AddButton label={t('app.add')} onClick={() => setDialog({})} />
        </Show>
      </PageHeader>
      <StatGrid
        stats={[
          { label: t('app.total'), value: list().length, icon: 'i-carbon-application' },
          {
            label: t('app.running'),
            value: count('running'),
            icon: 'i-carbon-play-outline',
            tone: 'text-green-600',
          },
          {
            label: t('app.stopped'),
            value: count('stopped', 'idle'),
            icon: 'i-carbon-stop-outline',
            tone: 'text-gray-500',
          },
          { label: t('app.error'), value: count('error'), icon: 'i-carbon-error', tone: 'text-red-600' },
        ]}
      />
      <Show when={apps.error}>
        <p class="field-error mb-2" role="alert">
          {t('common.error')}: {asApiError(apps.error).details}
        </p>
      </Show>
      <h2 class="sr-only">{t('app.list')}</h2>
      <Show when={!apps.loading && list().length === 0}>
        <p class="card text-gray-500 text-sm">{t('common.empty')}</p>
      </Show>
      <ul class="grid gap-3 sm:grid-cols-2 xl:grid-cols-3 mb-4">
        <For each={list()}>
          {(a) => (
            <AppCard
              app={a}
              busy={busy()[a.id]}
              canOperate={canOperate()}
              onAction={(action) => act(a, action)}
              onEdit={() => setDialog({ editing: a })}
              onDelete={() => remove(a)}
            />
          )}
        </For>
      </ul>
      <Show when={lines().length > 0}>
        <section class="card" aria-labelledby="app-progress-title">
          <div class="flex items-center mb-2">
            <h2 id="app-progress-title" class="text-sm font-semibold mr-auto">
              {t('app.progress')}
            </h2>
            <button type="button" class="btn-ghost py-1" onClick={() => setLines([])}>
              {t('common.close')}
            </button>
          </div>
          <ol
            class="font-mono text-xs max-h-72 overflow-y-auto bg-gray-50 dark:bg-gray-950 rounded p-2"
            aria-live="polite"
            data-testid="app-progress"
          >
            <For each={lines()}>
              {(l) => (
                <li class={l.level === 'error' ? 'text-red-600 dark:text-red-400' : ''} data-type={l.type}>
                  <span class="text-gray-400">{fmtTime(l.at, locale())} </span>
                  <Show when={l.appId}>
                    <span class="text-blue-600 dark:text-blue-400">[{nameOf(l.appId)}] </span>
                  </Show>
                  {l.text}
                </li>
              )}
            </For>
          </ol>
        </section>
      </Show>
      <Show when={dialog()}>
        {(d) => (
          <ApplicationDialog
            editing={d().editing}
            onClose={() => setDialog(null)}
            onSaved={(saved) => {
              const editing = !!d().editing;
              setDialog(null);
              toast(editing ? t('app.saved') : t('app.created'));
              mutate((as) =>
                as?.some((x) => x.id === saved.id)
                  ? as.map((x) => (x.id === saved.id ? saved : x))
                  : [...(as ?? []), saved],
              );
            }}
          />
        )}
      </Show>
    </section>
  );
}

function AppCard(props: {
  app: Application;
  busy: Action | undefined;
  canOperate: boolean;
  onAction: (a: Action) => void;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const a = () => props.app;
  const active = () => a().status === 'running' || a().status === 'deploying';
  return (
    <li
      class="card flex flex-col gap-2 min-w-0"
      data-testid="app-card"
      data-name={a().name}
      data-status={a().status}
    >
      <div class="flex items-start gap-2">
        <div class="min-w-0 mr-auto">
          <h3 class="font-semibold truncate">{a().name}</h3>
          <p class="text-xs text-gray-500 truncate" title={a().description}>
            {a().description || t(`app.type.${a().type}` as MessageKey)}
          </p>
        </div>
        <span
          class={`badge ${a().status === 'deploying' ? 'animate-pulse bg-yellow-100 text-yellow-800 dark:bg-yellow-900 dark:text-yellow-200' : 'bg-gray-100 dark:bg-gray-800'}`}
          data-testid="app-status"
          title={a().statusReason ?? ''}
        >
          <StatusDot tone={STATUS_TONE[a().status]} label={t(`app.status.${a().status}` as MessageKey)} />
        </span>
      </div>
      <dl class="grid grid-cols-[auto_1fr] gap-x-3 gap-y-0.5 text-xs">
        <dt class="text-gray-500">{a().image ? t('app.image') : t('app.gitUrl')}</dt>
        <dd class="font-mono truncate" title={a().image ?? a().gitUrl}>
          {a().image ?? a().gitUrl}
        </dd>
        <dt class="text-gray-500">{t('app.resources')}</dt>
        <dd class="tabular-nums">
          {t('res.cores', { n: fmtNumber(a().resources.cpu, 2) })} · {fmtNumber(a().resources.memory, 2)} GB ·{' '}
          {a().instances} ×
        </dd>
        <Show when={a().runningOn.length > 0}>
          <dt class="text-gray-500">{t('app.runningOn')}</dt>
          <dd class="truncate">{a().runningOn.join(', ')}</dd>
        </Show>
      </dl>
      <Show when={a().status === 'error' && a().statusReason}>
        <p class="field-error">{a().statusReason}</p>
      </Show>
      <div class="flex items-center gap-1 mt-auto pt-1">
        <span class="text-xs text-gray-500 mr-auto" data-testid="app-last-deployed">
          {a().lastDeployed
            ? t('app.lastDeployed', { time: fmtTime(a().lastDeployed ?? '', locale()) })
            : t('app.never')}
        </span>
        <Show when={props.canOperate}>
          <Show
            when={active()}
            fallback={
              <>
                <button
                  type="button"
                  class="btn-primary py-1"
                  aria-label={`${t('app.deploy')} ${a().name}`}
                  disabled={!!props.busy}
                  onClick={() => props.onAction('deploy')}
                >
                  <span class="i-carbon-deploy" aria-hidden="true" />
                  {t('app.deploy')}
                </button>
                {/* A failed deploy or stop may leave instances behind: offer to stop them. */}
                <Show when={a().status === 'error'}>
                  <IconButton
                    icon="i-carbon-stop-outline"
                    class="text-red-600"
                    label={t('app.stop')}
                    name={a().name}
                    disabled={!!props.busy}
                    onClick={() => props.onAction('stop')}
                  />
                </Show>
              </>
            }
          >
            <IconButton
              icon="i-carbon-restart"
              label={t('app.restart')}
              name={a().name}
              disabled={!!props.busy || a().status === 'deploying'}
              onClick={() => props.onAction('restart')}
            />
            <IconButton
              icon="i-carbon-stop-outline"
              class="text-red-600"
              label={t('app.stop')}
              name={a().name}
              disabled={!!props.busy}
              onClick={() => props.onAction('stop')}
            />
          </Show>
          <IconButton
            icon="i-carbon-edit"
            label={t('common.edit')}
            name={a().name}
            disabled={!!props.busy}
            onClick={props.onEdit}
          />
          <IconButton
            icon="i-carbon-trash-can"
            label={t('common.delete')}
            name={a().name}
            disabled={!!props.busy || active()}
            onClick={props.onDelete}
          />
        </Show>
      </div>
    </li>
  );
}
