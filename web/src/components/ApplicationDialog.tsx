/**
 * Create or edit an application: quick import from a Git URL (parse-git fills the form), then the
 * advanced configuration (image, command, env with secrets, resources, ports, health check,
 * instances). Checked in the browser like the server checks it; the server's field errors are
 * shown at the same fields.
 */
import { createSignal, For, type JSX, Show } from 'solid-js';
import { createStore } from 'solid-js/store';
import { type ApiError, api } from '../api/client';
import {
  APP_TYPES,
  type AppErrors,
  type AppField,
  type AppFormValues,
  type Application,
  appFieldForPath,
  emptyAppForm,
  formFromApp,
  prefillFromRepo,
  toCreateBody,
  toUpdateBody,
  validateApp,
} from '../lib/app-form';
import { type MessageKey, t } from '../lib/i18n';
import { EnvEditor, PortsEditor } from './AppRows';
import { Dialog, Field, FormFooter } from './ui';

type TextField = Exclude<AppField, 'env' | 'ports' | 'type'>;

export function ApplicationDialog(props: {
  editing?: Application | undefined;
  onClose: () => void;
  onSaved: (app: Application) => void;
}) {
  const [form, setForm] = createStore<AppFormValues>(
    props.editing ? formFromApp(props.editing) : emptyAppForm(),
  );
  const [local, setLocal] = createSignal<AppErrors>({});
  const [server, setServer] = createSignal<Partial<Record<AppField, string>>>({});
  const [rest, setRest] = createSignal('');
  const [parsing, setParsing] = createSignal(false);
  const [detected, setDetected] = createSignal('');
  const [saving, setSaving] = createSignal(false);

  const errorOf = (f: AppField): string | undefined => {
    const p = local()[f];
    return p ? t(p.key, p.params) : server()[f];
  };
  /** Shows a failed call's field errors at their fields, the rest in the summary. */
  const showServerError = (err: ApiError) => {
    const fields: Partial<Record<AppField, string>> = {};
    const others: string[] = [];
    for (const f of err.fields ?? []) {
      const field = appFieldForPath(f.path);
      if (field && !fields[field]) fields[field] = f.message;
      else others.push(`${f.path}: ${f.message}`);
    }
    if (!err.fields?.length && err.code?.startsWith('GIT_')) fields.gitUrl = err.details;
    setServer(fields);
    setRest(Object.keys(fields).length && !others.length ? '' : [err.details, ...others].join(' '));
  };

  const parse = async () => {
    setServer({});
    setRest('');
    setDetected('');
    const url = form.gitUrl.trim();
    if (!url) {
      setLocal({ gitUrl: { key: 'app.v.required' } });
      return;
    }
    setLocal({});
    setParsing(true);
    try {
      const { data, error } = await api.POST('/api/applications/parse-git', {
        body: {
          gitUrl: url,
          ...(form.branch ? { branch: form.branch } : {}),
          ...(form.gitToken ? { gitToken: form.gitToken } : {}),
        },
      });
      if (error) showServerError(error as ApiError);
      else if (data) {
        setForm((f) => prefillFromRepo(f, url, data));
        setDetected(
          t('app.parsed', {
            runtime: data.runtime,
            type: t(`app.type.${data.type}` as MessageKey),
            port: data.defaultPort ?? '—',
            dockerfile: data.hasDockerfile ? t('app.hasDockerfile') : '',
          }),
        );
      }
    } finally {
      setParsing(false);
    }
  };

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setServer({});
    setRest('');
    const problems = validateApp(form);
    setLocal(problems);
    if (Object.keys(problems).length) {
      const first = Object.keys(problems)[0];
      document.getElementById(`app-${first}`)?.focus();
      return;
    }
    setSaving(true);
    try {
      const res = props.editing
        ? await api.PUT('/api/applications/{id}', {
            params: { path: { id: props.editing.id } },
            body: toUpdateBody(form),
          })
        : await api.POST('/api/applications', { body: toCreateBody(form) });
      if (res.error) showServerError(res.error as ApiError);
      else if (res.data) props.onSaved(res.data);
    } finally {
      setSaving(false);
    }
  };

  const text = (
    field: TextField,
    label: MessageKey,
    extra: JSX.InputHTMLAttributes<HTMLInputElement> = {},
  ) => (
    <Field id={`app-${field}`} label={t(label)} error={errorOf(field)} hint={hintOf(field)}>
      <input
        id={`app-${field}`}
        class="input"
        aria-invalid={!!errorOf(field)}
        aria-describedby={errorOf(field) ? `app-${field}-error` : undefined}
        value={form[field] as string}
        onInput={(ev) => setForm(field, ev.currentTarget.value)}
        {...extra}
      />
    </Field>
  );
  const hintOf = (field: AppField): string | undefined =>
    field === 'image' ? t('app.imageHint') : field === 'command' ? t('app.commandHint') : undefined;
  const num = { inputMode: 'decimal' } as const;

  return (
    <Dialog title={props.editing ? t('app.editTitle') : t('app.createTitle')} onClose={props.onClose} wide>
      <form onSubmit={submit} noValidate data-testid="app-form">
        <fieldset class="mb-3 rounded border border-gray-200 dark:border-gray-700 p-3">
          <legend class="text-sm font-semibold px-1">{t('app.importTitle')}</legend>
          <div class="grid sm:grid-cols-[2fr_1fr] gap-x-3">
            {text('gitUrl', 'app.gitUrl', { placeholder: 'https://git.example.com/team/app.git' })}
            {text('branch', 'app.branch', { placeholder: 'main' })}
          </div>
          <div class="grid sm:grid-cols-[2fr_1fr] gap-x-3 items-end">
            {text('gitToken', 'app.gitToken', { type: 'password', autocomplete: 'off' })}
            <div class="mb-3">
              <button
                type="button"
                class="btn-ghost w-full justify-center"
                disabled={parsing()}
                onClick={parse}
              >
                <span class="i-carbon-search" aria-hidden="true" />
                {parsing() ? t('app.parsing') : t('app.parse')}
              </button>
            </div>
          </div>
          <Show when={detected()}>
            <p class="text-sm text-green-700 dark:text-green-400" role="status" data-testid="git-detected">
              {detected()}
            </p>
          </Show>
        </fieldset>

        <div class="grid sm:grid-cols-2 gap-x-3">
          {text('name', 'app.name', { autocomplete: 'off' })}
          <Field id="app-type" label={t('app.type')} error={errorOf('type')}>
            <select
              id="app-type"
              class="input"
              value={form.type}
              onChange={(ev) => setForm('type', ev.currentTarget.value as AppFormValues['type'])}
            >
              <For each={APP_TYPES}>
                {(ty) => <option value={ty}>{t(`app.type.${ty}` as MessageKey)}</option>}
              </For>
            </select>
          </Field>
        </div>
        {text('description', 'app.description')}

        <fieldset class="mb-3 rounded border border-gray-200 dark:border-gray-700 p-3">
          <legend class="text-sm font-semibold px-1">{t('app.advanced')}</legend>
          <div class="grid sm:grid-cols-2 gap-x-3">
            {text('image', 'app.image', { placeholder: 'nginx:1.27', autocomplete: 'off' })}
            {text('command', 'app.command', { placeholder: 'sleep 300', autocomplete: 'off' })}
          </div>
          <div class="grid sm:grid-cols-2 gap-x-3">
            {text('commitHash', 'app.commit', { autocomplete: 'off' })}
            {text('instances', 'app.instances', { inputMode: 'numeric' })}
          </div>
          <h3 class="text-sm font-semibold mt-1 mb-2">{t('app.resources')}</h3>
          <div class="grid grid-cols-2 sm:grid-cols-4 gap-x-3">
            {text('cpu', 'app.cpu', num)}
            {text('memory', 'app.memory', num)}
            {text('gpu', 'app.gpu', { inputMode: 'numeric', placeholder: t('common.optional') })}
            {text('storage', 'app.storage', { ...num, placeholder: t('common.optional') })}
          </div>
          <EnvEditor form={form} setForm={setForm} error={errorOf('env')} />
          <PortsEditor form={form} setForm={setForm} error={errorOf('ports')} />
          <h3 class="text-sm font-semibold mt-1 mb-2">{t('app.health')}</h3>
          <label class="inline-flex items-center gap-2 text-sm mb-2">
            <input
              type="checkbox"
              class="w-4 h-4"
              checked={form.healthCheck}
              onChange={(ev) => setForm('healthCheck', ev.currentTarget.checked)}
            />
            {t('app.healthEnable')}
          </label>
          <Show when={form.healthCheck}>
            <div class="grid grid-cols-2 sm:grid-cols-4 gap-x-3">
              {text('hcPath', 'app.hcPath')}
              {text('hcPort', 'app.hcPort', { inputMode: 'numeric' })}
              {text('hcInterval', 'app.hcInterval', { inputMode: 'numeric' })}
              {text('hcTimeout', 'app.hcTimeout', { inputMode: 'numeric' })}
            </div>
          </Show>
        </fieldset>

        <FormFooter error={rest()} onCancel={props.onClose} saving={saving()} />
      </form>
    </Dialog>
  );
}
