/** API tokens: your own (admins see everyone's); create (the secret is shown once) and revoke. */
import { createResource, createSignal, For, Show } from 'solid-js';
import { type ApiError, api, asApiError } from '../api/client';
import { splitErrors } from '../components/form-errors';
import { Dialog, Field, toast } from '../components/ui';
import { fmtTime } from '../lib/format';
import { locale, t } from '../lib/i18n';

async function fetchTokens() {
  const { data, error } = await api.GET('/api/auth/tokens');
  if (error) throw asApiError(error);
  return data ?? [];
}

export default function TokensPage() {
  const [tokens, { refetch }] = createResource(fetchTokens);
  const [adding, setAdding] = createSignal(false);
  const [created, setCreated] = createSignal('');

  const revoke = async (id: string, name: string) => {
    if (!confirm(t('common.confirmDelete', { name }))) return;
    const { error } = await api.DELETE('/api/auth/tokens/{id}', { params: { path: { id } } });
    if (error) toast(`${t('common.error')}: ${(error as ApiError).details}`, 'error');
    void refetch();
  };

  return (
    <section aria-labelledby="tokens-title">
      <div class="flex flex-wrap items-center gap-2 mb-4">
        <h1 id="tokens-title" class="text-xl font-semibold mr-auto">
          {t('tokens.title')}
        </h1>
        <button type="button" class="btn-primary" onClick={() => setAdding(true)}>
          <span class="i-carbon-add" aria-hidden="true" />
          {t('tokens.add')}
        </button>
      </div>
      <Show when={created()}>
        <div class="card mb-4 border-green-500" role="status">
          <p class="text-sm mb-2">{t('tokens.created')}</p>
          <code
            class="block break-all text-xs bg-gray-100 dark:bg-gray-800 p-2 rounded"
            data-testid="new-token"
          >
            {created()}
          </code>
        </div>
      </Show>
      <Show when={tokens.error}>
        <p class="field-error" role="alert">
          {asApiError(tokens.error).details}
        </p>
      </Show>
      <div class="card p-0 overflow-x-auto">
        <table class="w-full" aria-labelledby="tokens-title">
          <thead>
            <tr>
              <th class="th" scope="col">
                {t('tokens.name')}
              </th>
              <th class="th" scope="col">
                {t('tokens.owner')}
              </th>
              <th class="th" scope="col">
                {t('users.role')}
              </th>
              <th class="th" scope="col">
                {t('tokens.expires')}
              </th>
              <th class="th" scope="col">
                {t('common.actions')}
              </th>
            </tr>
          </thead>
          <tbody>
            <Show when={!tokens.loading && (tokens() ?? []).length === 0}>
              <tr>
                <td class="td text-gray-500" colSpan={5}>
                  {t('common.empty')}
                </td>
              </tr>
            </Show>
            <For each={tokens() ?? []}>
              {(k) => (
                <tr>
                  <td class="td">
                    {k.name}
                    <Show when={k.revoked}>
                      <span class="badge ml-2 bg-gray-200 dark:bg-gray-700">{t('tokens.revoked')}</span>
                    </Show>
                  </td>
                  <td class="td">{k.username}</td>
                  <td class="td">{k.role}</td>
                  <td class="td text-xs">
                    {k.expiresAt ? fmtTime(k.expiresAt, locale()) : t('tokens.never')}
                  </td>
                  <td class="td">
                    <Show when={!k.revoked}>
                      <button type="button" class="btn-ghost py-1" onClick={() => revoke(k.id, k.name)}>
                        {t('tokens.revoke')}
                      </button>
                    </Show>
                  </td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
      </div>
      <Show when={adding()}>
        <AddToken
          onClose={() => setAdding(false)}
          onCreated={(secret) => {
            setAdding(false);
            setCreated(secret);
            void refetch();
          }}
        />
      </Show>
    </section>
  );
}

function AddToken(props: { onClose: () => void; onCreated: (token: string) => void }) {
  const [name, setName] = createSignal('');
  const [days, setDays] = createSignal('');
  const [fields, setFields] = createSignal<Record<string, string>>({});
  const [rest, setRest] = createSignal('');
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    if (!name().trim()) local.name = t('v.nameRequired');
    const d = days().trim() ? Number(days()) : undefined;
    if (d !== undefined && (!Number.isInteger(d) || d < 1 || d > 3650)) local.expiresInDays = '1–3650';
    setFields(local);
    if (Object.keys(local).length) return;
    const { data, error } = await api.POST('/api/auth/tokens', {
      body: { name: name().trim(), ...(d !== undefined ? { expiresInDays: d } : {}) },
    });
    if (error) {
      const s = splitErrors(error as ApiError, ['name', 'expiresInDays']);
      setFields(s.fields);
      setRest(s.rest);
    } else if (data) props.onCreated(data.token);
  };
  return (
    <Dialog title={t('tokens.add')} onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <Field id="token-name" label={t('tokens.name')} error={fields().name}>
          <input
            id="token-name"
            class="input"
            value={name()}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Field id="token-days" label={t('tokens.days')} error={fields().expiresInDays}>
          <input
            id="token-days"
            class="input"
            inputMode="numeric"
            value={days()}
            onInput={(e) => setDays(e.currentTarget.value)}
          />
        </Field>
        <Show when={rest()}>
          <p class="field-error" role="alert">
            {rest()}
          </p>
        </Show>
        <div class="flex justify-end gap-2 mt-4">
          <button type="button" class="btn-ghost" onClick={props.onClose}>
            {t('common.cancel')}
          </button>
          <button type="submit" class="btn-primary">
            {t('common.save')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
