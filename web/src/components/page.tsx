/**
 * The pieces every list page shares: a header (title + actions), a row of stat cards and a data
 * table with its empty and error states. One place for the markup keeps the pages consistent
 * (spacing, headings for screen readers, the empty row) and short.
 */
import { For, type JSX, Show } from 'solid-js';
import { asApiError } from '../api/client';
import { t } from '../lib/i18n';
import { StatCard } from './ui';

/** The page's h1 (its id labels the section and the table) and its action buttons. */
export function PageHeader(props: { id: string; title: string; children?: JSX.Element }) {
  return (
    <div class="flex flex-wrap items-center gap-2 sm:gap-3 mb-4">
      <h1 id={props.id} class="text-xl font-semibold mr-auto">
        {props.title}
      </h1>
      {props.children}
    </div>
  );
}

export interface Stat {
  label: string;
  value: string | number;
  icon: string;
  tone?: string;
}

export function StatGrid(props: { stats: Stat[] }) {
  return (
    <div class="grid grid-cols-2 lg:grid-cols-4 gap-3 mb-4">
      <For each={props.stats}>
        {(s) => <StatCard label={s.label} value={s.value} icon={s.icon} tone={s.tone} />}
      </For>
    </div>
  );
}

export interface Column<T> {
  header: string;
  cell: (row: T) => JSX.Element;
  class?: string;
}

/**
 * A table in a card. `rowAttrs` adds attributes to each <tr> (test ids, data-status); the error
 * (a failed load) is shown above the table, an empty list as one row.
 */
export function DataTable<T>(props: {
  columns: Column<T>[];
  rows: T[] | undefined;
  loading?: boolean;
  error?: unknown;
  title?: string;
  label?: string;
  labelledBy?: string;
  /** The empty row's text; "no data" by default. */
  empty?: string;
  class?: string;
  rowAttrs?: (row: T) => Record<string, string | undefined>;
}) {
  return (
    <div class={`card p-0 overflow-x-auto ${props.class ?? ''}`}>
      <Show when={props.title}>
        <h2 class="text-sm font-semibold px-3 pt-3 pb-1">{props.title}</h2>
      </Show>
      <Show when={props.error}>
        <p class="field-error px-3" role="alert">
          {t('common.error')}: {asApiError(props.error).details}
        </p>
      </Show>
      <table class="w-full" aria-label={props.label} aria-labelledby={props.labelledBy}>
        <thead>
          <tr>
            <For each={props.columns}>
              {(c) => (
                <th class="th" scope="col">
                  {c.header}
                </th>
              )}
            </For>
          </tr>
        </thead>
        <tbody>
          <Show when={!props.loading && (props.rows ?? []).length === 0}>
            <tr>
              <td class="td text-gray-500" colSpan={props.columns.length}>
                {props.empty ?? t('common.empty')}
              </td>
            </tr>
          </Show>
          <For each={props.rows ?? []}>
            {(row) => (
              <tr {...(props.rowAttrs?.(row) ?? {})}>
                <For each={props.columns}>{(c) => <td class={`td ${c.class ?? ''}`}>{c.cell(row)}</td>}</For>
              </tr>
            )}
          </For>
        </tbody>
      </table>
    </div>
  );
}

/** The header's "refresh" button. */
export function RefreshButton(props: { onClick: () => void }) {
  return (
    <button type="button" class="btn-ghost" onClick={() => props.onClick()}>
      <span class="i-carbon-renew" aria-hidden="true" />
      {t('common.refresh')}
    </button>
  );
}

/** The header's primary "add …" button. */
export function AddButton(props: { label: string; onClick: () => void; icon?: string }) {
  return (
    <button type="button" class="btn-primary" onClick={() => props.onClick()}>
      <span class={props.icon ?? 'i-carbon-add'} aria-hidden="true" />
      {props.label}
    </button>
  );
}
