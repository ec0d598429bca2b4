/** API tokens: your own (admins see everyone's); create (the secret is shown once) and revoke. */
import { createResource, createSignal, Show } from 'solid-js';
import { type ApiError, api, asApiError } from '../api/client';
import { splitErrors } from '../components/form-errors';
import { AddButton, type Column, DataTable, PageHeader } from '../components/page';
import { Dialog, Field, FormFooter, toastError } from '../components/ui';
import { fmtTime } from '../lib/format';
import { locale, t } from '../lib/i18n';
import { latest } from '../lib/latest';

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
    if (error) toastError(error);
    void refetch();
  };

  type Token = NonNullable<ReturnType<typeof tokens>>[number];
  const columns: Column<Token>[] = [
    {
      header: t('tokens.name'),
      cell: (k) => (
        <>
          {k.name}
          <Show when={k.revoked}>
            <span class="badge ml-2 bg-gray-200 dark:bg-gray-700">{t('tokens.revoked')}</span>
          </Show>
        </>
      ),
    },
    { header: t('tokens.owner'), cell: (k) => k.username },
    { header: t('users.role'), cell: (k) => k.role },
    {
      header: t('tokens.expires'),
      class: 'text-xs',
      cell: (k) => (k.expiresAt ? fmtTime(k.expiresAt, locale()) : t('tokens.never')),
    },
    {
      header: t('common.actions'),
      cell: (k) => (
        <Show when={!k.revoked}>
          <button type="button" class="btn-ghost py-1" onClick={() => revoke(k.id, k.name)}>
            {t('tokens.revoke')}
          </button>
        </Show>
      ),
    },
  ];

  return (
    <section aria-labelledby="tokens-title">
      <PageHeader id="tokens-title" title={t('tokens.title')}>
        <AddButton label={t('tokens.add')} onClick={() => setAdding(true)} />
      </PageHeader>
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
      <DataTable
        labelledBy="tokens-title"
        columns={columns}
        rows={latest(tokens, undefined)}
        loading={tokens.loading}
        error={tokens.error}
      />
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
        <FormFooter error={rest()} onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}
