/** The application form's repeated rows: environment variables and ports. */
import { For, type JSX, Show } from 'solid-js';
import type { SetStoreFunction } from 'solid-js/store';
import type { AppFormValues } from '../lib/app-form';
import { type MessageKey, t } from '../lib/i18n';

type SetForm = SetStoreFunction<AppFormValues>;

/** A titled list of input rows, each with a remove button, an error line and an "add" button. */
function RowList<T>(props: {
  id: string;
  title: MessageKey;
  addLabel: MessageKey;
  testId: string;
  rows: T[];
  error: string | undefined;
  removeLabel: (row: T, i: number) => string;
  onAdd: () => void;
  onRemove: (i: number) => void;
  children: (row: T, i: () => number) => JSX.Element;
}) {
  return (
    <div class="mb-3" id={props.id} tabIndex={-1}>
      <h3 class="text-sm font-semibold mt-1 mb-2">{t(props.title)}</h3>
      <For each={props.rows}>
        {(row, i) => (
          <div class="grid grid-cols-[1fr_1fr_auto_auto] gap-2 items-center mb-2" data-testid={props.testId}>
            {props.children(row, i)}
            <button
              type="button"
              class="btn-icon"
              aria-label={props.removeLabel(row, i())}
              onClick={() => props.onRemove(i())}
            >
              <span class="i-carbon-close" aria-hidden="true" />
            </button>
          </div>
        )}
      </For>
      <Show when={props.error}>
        <p id={`${props.id}-error`} class="field-error mb-2" role="alert">
          {props.error}
        </p>
      </Show>
      <button type="button" class="btn-ghost py-1" onClick={() => props.onAdd()}>
        <span class="i-carbon-add" aria-hidden="true" />
        {t(props.addLabel)}
      </button>
    </div>
  );
}

export function EnvEditor(props: { form: AppFormValues; setForm: SetForm; error: string | undefined }) {
  return (
    <RowList
      id="app-env"
      title="app.env"
      addLabel="app.envAdd"
      testId="env-row"
      rows={props.form.env}
      error={props.error}
      removeLabel={(row, i) => `${t('app.remove')} ${row.name || i + 1}`}
      onAdd={() => props.setForm('env', (rows) => [...rows, { name: '', value: '', secret: false }])}
      onRemove={(i) => props.setForm('env', (rows) => rows.filter((_, j) => j !== i))}
    >
      {(row, i) => (
        <>
          <input
            class="input"
            aria-label={`${t('app.envName')} ${i() + 1}`}
            value={row.name}
            onInput={(e) => props.setForm('env', i(), 'name', e.currentTarget.value)}
          />
          <input
            class="input"
            type={row.secret ? 'password' : 'text'}
            autocomplete="off"
            aria-label={`${t('app.envValue')} ${i() + 1}`}
            placeholder={row.stored ? t('app.envKeep') : ''}
            value={row.value}
            onInput={(e) => props.setForm('env', i(), 'value', e.currentTarget.value)}
          />
          <label class="inline-flex items-center gap-1 text-sm">
            <input
              type="checkbox"
              class="w-4 h-4"
              checked={row.secret}
              onChange={(e) => props.setForm('env', i(), 'secret', e.currentTarget.checked)}
            />
            {t('app.envSecret')}
          </label>
        </>
      )}
    </RowList>
  );
}

export function PortsEditor(props: { form: AppFormValues; setForm: SetForm; error: string | undefined }) {
  const port = (
    i: () => number,
    key: 'containerPort' | 'servicePort',
    label: MessageKey,
    value: () => string,
  ) => (
    <input
      class="input"
      inputMode="numeric"
      aria-label={`${t(label)} ${i() + 1}`}
      placeholder={t(label)}
      value={value()}
      onInput={(e) => props.setForm('ports', i(), key, e.currentTarget.value)}
    />
  );
  return (
    <RowList
      id="app-ports"
      title="app.ports"
      addLabel="app.portAdd"
      testId="port-row"
      rows={props.form.ports}
      error={props.error}
      removeLabel={(_, i) => `${t('app.remove')} ${t('app.ports')} ${i + 1}`}
      onAdd={() =>
        props.setForm('ports', (rows) => [...rows, { containerPort: '', servicePort: '', protocol: 'TCP' }])
      }
      onRemove={(i) => props.setForm('ports', (rows) => rows.filter((_, j) => j !== i))}
    >
      {(row, i) => (
        <>
          {port(i, 'containerPort', 'app.containerPort', () => row.containerPort)}
          {port(i, 'servicePort', 'app.servicePort', () => row.servicePort)}
          <select
            class="input w-auto"
            aria-label={`${t('app.protocol')} ${i() + 1}`}
            value={row.protocol}
            onChange={(e) => props.setForm('ports', i(), 'protocol', e.currentTarget.value as 'TCP' | 'UDP')}
          >
            <option value="TCP">TCP</option>
            <option value="UDP">UDP</option>
          </select>
        </>
      )}
    </RowList>
  );
}
