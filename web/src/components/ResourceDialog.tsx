/** Add/edit a compute resource: client-side checks, "test connection", server field errors. */
import { batch, createSignal, For, Match, Show, Switch } from 'solid-js';
import { createStore } from 'solid-js/store';
import { type ApiError, api } from '../api/client';
import { t } from '../lib/i18n';
import {
  emptyForm,
  type FieldErrors,
  type FormField,
  fieldForPath,
  type ResourceFormValues,
  type ResourceType,
  toBody,
  toUpdateBody,
  validateResource,
} from '../lib/resource-form';
import type { Resource } from '../pages/Resources';
import { Dialog, Field, FormFooter } from './ui';

type TestState =
  | { state: 'idle' }
  | { state: 'testing' }
  | { state: 'ok'; cpu: number; memory: number }
  | { state: 'fail'; error: string };

function fromResource(r: Resource): ResourceFormValues {
  return {
    ...emptyForm(),
    name: r.name,
    type: r.type,
    url: r.url,
    description: r.description ?? '',
    sshUser: r.credentials.sshUser ?? '',
    sshPort: r.credentials.sshPort ? String(r.credentials.sshPort) : '',
    sshHostKey: r.credentials.sshHostKey ?? '',
  };
}

export function ResourceDialog(props: {
  editing?: Resource | undefined;
  onClose: () => void;
  onSaved: () => void;
}) {
  const editing = props.editing;
  const builtin = !!editing?.builtin;
  const original = editing ? fromResource(editing) : emptyForm();
  const [form, setForm] = createStore<ResourceFormValues>({ ...original });
  const [errors, setErrors] = createSignal<FieldErrors>({});
  const [serverErrors, setServerErrors] = createSignal<Partial<Record<FormField, string>>>({});
  const [formError, setFormError] = createSignal('');
  const [test, setTest] = createSignal<TestState>({ state: 'idle' });
  const [saving, setSaving] = createSignal(false);

  const set = (field: FormField, value: string) => {
    batch(() => {
      setForm(field, value as never);
      setServerErrors((e) => ({ ...e, [field]: undefined }));
      if (errors()[field]) setErrors((e) => ({ ...e, [field]: undefined }));
      setTest({ state: 'idle' });
    });
  };
  const errorOf = (field: FormField): string | undefined => {
    const local = errors()[field];
    return local ? t(local.key, local.params) : serverErrors()[field];
  };
  const aria = (field: FormField) => ({
    id: `res-${field}`,
    'aria-invalid': errorOf(field) ? ('true' as const) : ('false' as const),
    'aria-describedby': errorOf(field) ? `res-${field}-error` : `res-${field}-hint`,
  });

  const check = (): boolean => {
    const e = validateResource(form, { editing: !!editing, builtin });
    setErrors(e);
    setFormError('');
    const first = Object.keys(e)[0];
    if (first) document.getElementById(`res-${first}`)?.focus();
    return !first;
  };

  /** Server errors: each field error at its field; the rest above the buttons. */
  const showServerError = (err: ApiError) => {
    const mapped: Partial<Record<FormField, string>> = {};
    const rest: string[] = [];
    for (const f of err.fields ?? []) {
      const field = fieldForPath(f.path);
      if (field) mapped[field] = mapped[field] ? `${mapped[field]}; ${f.message}` : f.message;
      else rest.push(`${f.path}: ${f.message}`);
    }
    setServerErrors(mapped);
    setFormError(Object.keys(mapped).length && !rest.length ? '' : [err.details, ...rest].join(' '));
    const first = Object.keys(mapped)[0];
    if (first) document.getElementById(`res-${first}`)?.focus();
  };

  const runTest = async () => {
    if (!check()) return;
    setTest({ state: 'testing' });
    const { data, error } = await api.POST('/api/resources/test', { body: toBody(form, { builtin }) });
    if (error) {
      showServerError(error as ApiError);
      setTest({ state: 'fail', error: (error as ApiError).details });
    } else if (data?.ok) setTest({ state: 'ok', cpu: data.capacity.cpu, memory: data.capacity.memory });
    else setTest({ state: 'fail', error: data && !data.ok ? data.error : '' });
  };

  const save = async (e: SubmitEvent) => {
    e.preventDefault();
    if (!check()) return;
    setSaving(true);
    try {
      const result = editing
        ? await api.PUT('/api/resources/{id}', {
            params: { path: { id: editing.id } },
            body: toUpdateBody(form, original, { builtin }),
          })
        : await api.POST('/api/resources', { params: { query: { verify: 'true' } }, body: toBody(form) });
      if (result.error) showServerError(result.error as ApiError);
      else props.onSaved();
    } finally {
      setSaving(false);
    }
  };

  const TYPES: ResourceType[] = ['docker', 'kubernetes', 'vm'];

  return (
    <Dialog title={editing ? t('res.editTitle') : t('res.addTitle')} onClose={props.onClose}>
      <form id="resource-form" onSubmit={save} noValidate>
        <Field id="res-name" label={t('res.name')} error={errorOf('name')}>
          <input
            {...aria('name')}
            class="input"
            maxLength={63}
            value={form.name}
            onInput={(e) => set('name', e.currentTarget.value)}
          />
        </Field>
        <Field id="res-type" label={t('res.type')} error={errorOf('type')}>
          <select
            {...aria('type')}
            class="input"
            disabled={!!editing}
            value={form.type}
            onChange={(e) => set('type', e.currentTarget.value)}
          >
            <For each={TYPES}>{(ty) => <option value={ty}>{ty}</option>}</For>
          </select>
        </Field>
        <Field
          id="res-url"
          label={t('res.url')}
          error={errorOf('url')}
          hint={t(`res.urlHint.${form.type}` as 'res.urlHint.docker')}
        >
          <input
            {...aria('url')}
            class="input font-mono"
            inputMode="url"
            spellcheck={false}
            readOnly={builtin}
            value={form.url}
            onInput={(e) => set('url', e.currentTarget.value)}
          />
        </Field>
        <Switch>
          <Match when={form.type !== 'vm' && !builtin}>
            <Field
              id="res-token"
              label={`${t('res.token')} (${t('common.optional')})`}
              error={errorOf('token')}
              hint={editing?.hasToken ? t('res.tokenKeep') : undefined}
            >
              <input
                {...aria('token')}
                type="password"
                class="input"
                autocomplete="off"
                value={form.token}
                onInput={(e) => set('token', e.currentTarget.value)}
              />
            </Field>
          </Match>
          <Match when={form.type === 'vm' && !builtin}>
            <fieldset class="border border-gray-200 dark:border-gray-700 rounded p-3 mb-3">
              <legend class="text-sm font-medium px-1">SSH</legend>
              <div class="grid grid-cols-1 sm:grid-cols-2 gap-x-3">
                <Field id="res-sshUser" label={t('res.sshUser')} error={errorOf('sshUser')}>
                  <input
                    {...aria('sshUser')}
                    class="input"
                    autocomplete="off"
                    value={form.sshUser}
                    onInput={(e) => set('sshUser', e.currentTarget.value)}
                  />
                </Field>
                <Field id="res-sshPort" label={t('res.sshPort')} error={errorOf('sshPort')}>
                  <input
                    {...aria('sshPort')}
                    class="input"
                    inputMode="numeric"
                    placeholder="22"
                    value={form.sshPort}
                    onInput={(e) => set('sshPort', e.currentTarget.value)}
                  />
                </Field>
              </div>
              <Field id="res-sshPassword" label={t('res.sshPassword')} error={errorOf('sshPassword')}>
                <input
                  {...aria('sshPassword')}
                  type="password"
                  class="input"
                  autocomplete="off"
                  value={form.sshPassword}
                  onInput={(e) => set('sshPassword', e.currentTarget.value)}
                />
              </Field>
              <Field id="res-sshKey" label={t('res.sshKey')} error={errorOf('sshKey')}>
                <textarea
                  {...aria('sshKey')}
                  class="input font-mono text-xs"
                  rows={3}
                  spellcheck={false}
                  value={form.sshKey}
                  onInput={(e) => set('sshKey', e.currentTarget.value)}
                />
              </Field>
              <Field id="res-sshHostKey" label={t('res.sshHostKey')} error={errorOf('sshHostKey')}>
                <input
                  {...aria('sshHostKey')}
                  class="input font-mono"
                  placeholder="SHA256:…"
                  value={form.sshHostKey}
                  onInput={(e) => set('sshHostKey', e.currentTarget.value)}
                />
              </Field>
            </fieldset>
          </Match>
        </Switch>
        <Field
          id="res-description"
          label={`${t('res.description')} (${t('common.optional')})`}
          error={errorOf('description')}
        >
          <textarea
            {...aria('description')}
            class="input"
            rows={2}
            value={form.description}
            onInput={(e) => set('description', e.currentTarget.value)}
          />
        </Field>
        <div aria-live="polite" data-testid="test-result">
          <Switch>
            <Match when={test().state === 'testing'}>
              <p class="text-sm text-gray-500">{t('res.testing')}</p>
            </Match>
            <Match when={test().state === 'ok' && (test() as Extract<TestState, { state: 'ok' }>)}>
              {(r) => (
                <p class="text-sm text-green-700 dark:text-green-400" role="status">
                  {t('res.testOk', { cpu: r().cpu, memory: r().memory.toFixed(1) })}
                </p>
              )}
            </Match>
            <Match when={test().state === 'fail' && (test() as Extract<TestState, { state: 'fail' }>)}>
              {(r) => (
                <p class="field-error" role="alert">
                  {t('res.testFail', { error: r().error })}
                </p>
              )}
            </Match>
          </Switch>
        </div>
        <FormFooter error={formError()} onCancel={props.onClose} saving={saving()}>
          <Show when={!builtin}>
            <button
              type="button"
              class="btn-ghost mr-auto"
              disabled={test().state === 'testing'}
              onClick={runTest}
            >
              <span class="i-carbon-connect" aria-hidden="true" />
              {t('res.test')}
            </button>
          </Show>
        </FormFooter>
      </form>
    </Dialog>
  );
}
