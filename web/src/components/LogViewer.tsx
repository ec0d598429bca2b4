/**
 * Logs of a container or of an application (all its instances merged): the last lines, optionally
 * followed live (SSE), filtered by a search box and, for an application (its lines carry one), by level.
 */
import { createMemo, createSignal, For, onCleanup, onMount, Show } from 'solid-js';
import { api } from '../api/client';
import { openSse } from '../api/sse';
import { t } from '../lib/i18n';
import type { Container } from '../pages/Status';
import { Dialog } from './ui';

type Level = 'error' | 'warn' | 'info' | 'debug';
interface Line {
  stream: 'stdout' | 'stderr';
  timestamp: string;
  message: string;
  /** Application logs only: the detected level and the instance's container name. */
  level?: Level;
  source?: string;
}
const MAX_LINES = 5000;
const LEVELS: Level[] = ['error', 'warn', 'info', 'debug'];
const LEVEL_CLASS: Record<Level, string> = {
  error: 'text-red-300',
  warn: 'text-yellow-300',
  info: '',
  debug: 'text-gray-400',
};

export type LogViewerProps = { onClose: () => void } & (
  | { container: Container }
  | { application: { id: string; name: string } }
);

export function LogViewer(props: LogViewerProps) {
  // Both log routes take the same query (tail, follow, since) and answer the same shape.
  const src = () =>
    'application' in props
      ? { kind: 'applications' as const, id: props.application.id, name: props.application.name }
      : {
          kind: 'containers' as const,
          id: props.container.id || props.container.allocationId,
          name: props.container.name,
        };
  const id = () => src().id;
  const [level, setLevel] = createSignal<Level | ''>('');
  const [lines, setLines] = createSignal<Line[]>([]);
  const [follow, setFollow] = createSignal(false);
  const [query, setQuery] = createSignal('');
  const [error, setError] = createSignal('');
  let box: HTMLDivElement | undefined;
  let close: (() => void) | undefined;

  const append = (more: Line[]) => {
    setLines((old) => {
      const next = old.concat(more);
      return next.length > MAX_LINES ? next.slice(next.length - MAX_LINES) : next;
    });
    queueMicrotask(() => {
      if (box) box.scrollTop = box.scrollHeight;
    });
  };

  const load = async () => {
    const params = { path: { id: id() }, query: { tail: '200' } };
    const { data, error: err } =
      src().kind === 'applications'
        ? await api.GET('/api/applications/{id}/logs', { params })
        : await api.GET('/api/containers/{id}/logs', { params });
    if (err) setError((err as { details?: string }).details ?? t('common.error'));
    else {
      setLines([]);
      append((data?.items ?? []) as Line[]);
    }
  };

  const setFollowing = (on: boolean) => {
    setFollow(on);
    close?.();
    close = undefined;
    if (!on) return;
    const last = lines()[lines().length - 1];
    const since = last
      ? `&since=${encodeURIComponent(String(Math.floor(Date.parse(last.timestamp) / 1000) + 1))}`
      : '&tail=0';
    close = openSse(`/api/${src().kind}/${encodeURIComponent(id())}/logs?follow=true${since}`, {
      retryMs: 0,
      onMessage: (m) => {
        if (m.event !== 'log') return;
        try {
          append([JSON.parse(m.data) as Line]);
        } catch {}
      },
      onError: () => setFollow(false),
    });
  };

  onMount(() => void load());
  onCleanup(() => close?.());

  const shown = createMemo(() => {
    const q = query().trim().toLowerCase();
    const lv = level();
    return lines().filter((l) => (!lv || l.level === lv) && (!q || l.message.toLowerCase().includes(q)));
  });

  return (
    <Dialog title={t('st.logsTitle', { name: src().name })} onClose={props.onClose} wide>
      <div class="flex flex-wrap items-center gap-2 mb-2">
        <label class="sr-only" for="log-search">
          {t('st.searchLogs')}
        </label>
        <input
          id="log-search"
          type="search"
          class="input flex-1 min-w-40"
          placeholder={t('st.searchLogs')}
          value={query()}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <Show when={src().kind === 'applications'}>
          <label class="sr-only" for="log-level">
            {t('log.level')}
          </label>
          <select
            id="log-level"
            class="input w-auto py-1"
            value={level()}
            onChange={(e) => setLevel(e.currentTarget.value as Level | '')}
          >
            <option value="">{t('log.allLevels')}</option>
            <For each={LEVELS}>{(l) => <option value={l}>{t(`log.${l}`)}</option>}</For>
          </select>
        </Show>
        <label class="inline-flex items-center gap-2 text-sm cursor-pointer">
          <input
            type="checkbox"
            role="switch"
            class="w-4 h-4"
            checked={follow()}
            aria-checked={follow()}
            onChange={(e) => setFollowing(e.currentTarget.checked)}
          />
          {t('st.follow')}
        </label>
        <button type="button" class="btn-ghost" onClick={() => void load()}>
          <span class="i-carbon-renew" aria-hidden="true" />
          {t('common.refresh')}
        </button>
      </div>
      <Show when={error()}>
        <p class="field-error" role="alert">
          {error()}
        </p>
      </Show>
      <div
        ref={box}
        role="log"
        class="bg-gray-950 text-gray-100 font-mono text-xs p-3 rounded h-80 overflow-auto whitespace-pre-wrap break-all"
        data-testid="log-lines"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1)
        tabIndex={0}
        aria-label={t('st.logs')}
      >
        <Show when={shown().length} fallback={<span class="text-gray-400">{t('st.noLogs')}</span>}>
          <For each={shown()}>
            {(l) => (
              <div class={l.level ? LEVEL_CLASS[l.level] : l.stream === 'stderr' ? 'text-red-300' : ''}>
                <span class="text-gray-500">{l.timestamp.slice(11, 19)} </span>
                <Show when={l.source}>
                  <span class="text-blue-300">[{l.source}] </span>
                </Show>
                {l.message}
              </div>
            )}
          </For>
        </Show>
      </div>
    </Dialog>
  );
}
