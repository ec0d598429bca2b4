/** Small shared UI pieces: stat card, dialog, toasts, status dot, field wrapper, icon button. */
import { createSignal, For, type JSX, onCleanup, onMount, Show } from 'solid-js';
import { t } from '../lib/i18n';

export function StatCard(props: { label: string; value: string | number; icon: string; tone?: string }) {
  return (
    <section class="card flex items-center gap-3" aria-label={props.label}>
      <div class={`${props.icon} text-2xl ${props.tone ?? 'text-blue-600'}`} aria-hidden="true" />
      <div class="min-w-0">
        <div class="text-xs text-gray-500 dark:text-gray-400">{props.label}</div>
        <div class="text-xl font-semibold tabular-nums" data-testid="stat-value">
          {props.value}
        </div>
      </div>
    </section>
  );
}

let dialogSeq = 0;

/** A modal dialog: focus moves in on open and back on close; Escape and the backdrop close it. */
export function Dialog(props: {
  title: string;
  onClose: () => void;
  children: JSX.Element;
  footer?: JSX.Element;
  wide?: boolean;
}) {
  const id = `dlg-${++dialogSeq}`;
  let panel: HTMLDivElement | undefined;
  const previous = document.activeElement as HTMLElement | null;
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      props.onClose();
    } else if (e.key === 'Tab' && panel) {
      const items = panel.querySelectorAll<HTMLElement>(
        'button:not([disabled]), input:not([disabled]), select, textarea, [tabindex]:not([tabindex="-1"])',
      );
      const first = items[0];
      const last = items[items.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last?.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first?.focus();
      }
    }
  };
  onMount(() => {
    const first = panel?.querySelector<HTMLElement>('input, select, textarea, button');
    (first ?? panel)?.focus();
  });
  onCleanup(() => previous?.focus?.());
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a backdrop click is a mouse shortcut; keyboard users have Escape and the close button
    // biome-ignore lint/a11y/useKeyWithClickEvents: as above
    <div
      class="fixed inset-0 z-50 flex items-start sm:items-center justify-center bg-black/40 p-2 sm:p-4 overflow-y-auto"
      onClick={(e) => e.target === e.currentTarget && props.onClose()}
    >
      <div
        ref={panel}
        onKeyDown={onKey}
        role="dialog"
        aria-modal="true"
        aria-labelledby={id}
        tabIndex={-1}
        class={`card w-full ${props.wide ? 'max-w-4xl' : 'max-w-lg'} shadow-xl my-4`}
      >
        <div class="flex items-center justify-between mb-3">
          <h2 id={id} class="text-lg font-semibold">
            {props.title}
          </h2>
          <button type="button" class="btn-icon" aria-label={t('common.close')} onClick={props.onClose}>
            <span class="i-carbon-close" aria-hidden="true" />
          </button>
        </div>
        {props.children}
        <Show when={props.footer}>
          <div class="flex flex-wrap justify-end gap-2 mt-4">{props.footer}</div>
        </Show>
      </div>
    </div>
  );
}

export function Field(props: {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: string | undefined;
  children: JSX.Element;
}) {
  return (
    <div class="mb-3">
      <label class="label" for={props.id}>
        {props.label}
      </label>
      {props.children}
      <Show when={props.hint && !props.error}>
        <p id={`${props.id}-hint`} class="text-xs text-gray-500 mt-1">
          {props.hint}
        </p>
      </Show>
      <Show when={props.error}>
        <p id={`${props.id}-error`} class="field-error" role="alert">
          {props.error}
        </p>
      </Show>
    </div>
  );
}

type Toast = { id: number; text: string; tone: 'ok' | 'error' };
const [toasts, setToasts] = createSignal<Toast[]>([]);
let toastSeq = 0;

export function toast(text: string, tone: Toast['tone'] = 'ok'): void {
  const id = ++toastSeq;
  setToasts((list) => [...list, { id, text, tone }]);
  setTimeout(() => setToasts((list) => list.filter((x) => x.id !== id)), 4000);
}

export function Toasts() {
  return (
    <div class="fixed bottom-4 right-4 z-60 flex flex-col gap-2" aria-live="polite" role="status">
      <For each={toasts()}>
        {(x) => (
          <div
            class={`px-4 py-2 rounded shadow text-sm text-white ${x.tone === 'ok' ? 'bg-green-600' : 'bg-red-600'}`}
          >
            {x.text}
          </div>
        )}
      </For>
    </div>
  );
}

const DOT: Record<string, string> = {
  ok: 'bg-green-500',
  warn: 'bg-yellow-500',
  error: 'bg-red-500',
  idle: 'bg-gray-400',
  // In progress (an application deploying): neither fine nor failing yet.
  busy: 'bg-blue-500 animate-pulse',
};

export function StatusDot(props: { tone: keyof typeof DOT; label: string }) {
  return (
    <span class="inline-flex items-center gap-1.5">
      <span class={`inline-block w-2 h-2 rounded-full ${DOT[props.tone]}`} aria-hidden="true" />
      <span>{props.label}</span>
    </span>
  );
}

/** An icon-only button; its accessible name says what it does to which item ("删除 web-1"). */
export function IconButton(props: {
  icon: string;
  label: string;
  name?: string;
  onClick: () => void;
  disabled?: boolean;
  class?: string;
}) {
  return (
    <button
      type="button"
      class={`btn-icon ${props.class ?? ''}`}
      aria-label={props.name ? `${props.label} ${props.name}` : props.label}
      title={props.label}
      disabled={props.disabled}
      onClick={() => props.onClick()}
    >
      <span class={props.icon} aria-hidden="true" />
    </button>
  );
}

/** A failed call as an error toast ("操作失败: <details>"). */
export function toastError(error: unknown): void {
  const details =
    error && typeof error === 'object' && 'details' in error ? String(error.details) : String(error ?? '');
  toast(`${t('common.error')}: ${details}`, 'error');
}

/**
 * A form's end: the summary of errors no field shows, then [extra actions] Cancel / Save.
 * `children` go first in the button row (e.g. "test connection").
 */
export function FormFooter(props: {
  error?: string;
  onCancel: () => void;
  saving?: boolean;
  children?: JSX.Element;
}) {
  return (
    <>
      <Show when={props.error}>
        <p class="field-error" role="alert" data-testid="form-error">
          {props.error}
        </p>
      </Show>
      <div class="flex flex-wrap justify-end gap-2 mt-4">
        {props.children}
        <button type="button" class="btn-ghost" onClick={props.onCancel}>
          {t('common.cancel')}
        </button>
        <button type="submit" class="btn-primary" disabled={props.saving}>
          {t('common.save')}
        </button>
      </div>
    </>
  );
}
