/** Users (admin): list, add, change role, disable/enable, delete. */
import { createResource, createSignal, For, Show } from 'solid-js';
import { type ApiError, api, asApiError, type Role, roleAtLeast, session } from '../api/client';
import { splitErrors } from '../components/form-errors';
import { AddButton, type Column, DataTable, PageHeader } from '../components/page';
import { Dialog, Field, FormFooter, IconButton, toastError } from '../components/ui';
import { fmtTime } from '../lib/format';
import { locale, t } from '../lib/i18n';
import { latest } from '../lib/latest';

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

async function fetchUsers() {
  const { data, error } = await api.GET('/api/users');
  if (error) throw asApiError(error);
  return data ?? [];
}

export default function UsersPage() {
  const [users, { refetch }] = createResource(() => roleAtLeast(session()?.user.role, 'admin'), fetchUsers);
  const [adding, setAdding] = createSignal(false);

  const patch = async (id: string, body: { role?: Role; disabled?: boolean }) => {
    const { error } = await api.PATCH('/api/users/{id}', { params: { path: { id } }, body });
    if (error) toastError(error);
    void refetch();
  };
  const remove = async (id: string, name: string) => {
    if (!confirm(t('common.confirmDelete', { name }))) return;
    const { error } = await api.DELETE('/api/users/{id}', { params: { path: { id } } });
    if (error) toastError(error);
    void refetch();
  };

  type User = NonNullable<ReturnType<typeof users>>[number];
  const columns: Column<User>[] = [
    {
      header: t('auth.username'),
      cell: (u) => (
        <>
          {u.username}
          <Show when={u.disabled}>
            <span class="badge ml-2 bg-gray-200 dark:bg-gray-700">{t('users.disabled')}</span>
          </Show>
        </>
      ),
    },
    {
      header: t('users.role'),
      cell: (u) => (
        <select
          class="input w-auto py-1"
          aria-label={`${t('users.role')} ${u.username}`}
          value={u.role}
          disabled={u.id === session()?.user.id}
          onChange={(e) => patch(u.id, { role: e.currentTarget.value as Role })}
        >
          <For each={ROLES}>{(r) => <option value={r}>{r}</option>}</For>
        </select>
      ),
    },
    {
      header: t('users.lastLogin'),
      class: 'text-xs',
      cell: (u) => (u.lastLoginAt ? fmtTime(u.lastLoginAt, locale()) : '—'),
    },
    {
      header: t('common.actions'),
      cell: (u) => (
        <Show when={u.id !== session()?.user.id}>
          <div class="flex gap-1">
            <button
              type="button"
              class="btn-ghost py-1"
              onClick={() => patch(u.id, { disabled: !u.disabled })}
            >
              {u.disabled ? t('users.enable') : t('users.disable')}
            </button>
            <IconButton
              icon="i-carbon-trash-can"
              label={t('common.delete')}
              name={u.username}
              onClick={() => remove(u.id, u.username)}
            />
          </div>
        </Show>
      ),
    },
  ];

  return (
    <section aria-labelledby="users-title">
      <PageHeader id="users-title" title={t('users.title')}>
        <AddButton label={t('users.add')} icon="i-carbon-user-follow" onClick={() => setAdding(true)} />
      </PageHeader>
      <DataTable
        labelledBy="users-title"
        columns={columns}
        rows={latest(users, undefined)}
        loading={users.loading}
        error={users.error}
        rowAttrs={() => ({ 'data-testid': 'user-row' })}
      />
      <Show when={adding()}>
        <AddUser
          onClose={() => setAdding(false)}
          onSaved={() => {
            setAdding(false);
            void refetch();
          }}
        />
      </Show>
    </section>
  );
}

function AddUser(props: { onClose: () => void; onSaved: () => void }) {
  const [username, setUsername] = createSignal('');
  const [password, setPassword] = createSignal('');
  const [role, setRole] = createSignal<Role>('viewer');
  const [fields, setFields] = createSignal<Record<string, string>>({});
  const [rest, setRest] = createSignal('');
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(username())) local.username = t('v.sshUser');
    if (password().length < 12) local.password = t('users.passwordHint');
    setFields(local);
    if (Object.keys(local).length) return;
    const { error } = await api.POST('/api/users', {
      body: { username: username(), password: password(), role: role() },
    });
    if (error) {
      const s = splitErrors(error as ApiError, ['username', 'password', 'role']);
      setFields(s.fields);
      setRest(s.rest);
    } else props.onSaved();
  };
  return (
    <Dialog title={t('users.add')} onClose={props.onClose}>
      <form onSubmit={submit} noValidate>
        <Field id="user-username" label={t('auth.username')} error={fields().username}>
          <input
            id="user-username"
            class="input"
            aria-invalid={!!fields().username}
            value={username()}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </Field>
        <Field
          id="user-password"
          label={t('auth.password')}
          error={fields().password}
          hint={t('users.passwordHint')}
        >
          <input
            id="user-password"
            type="password"
            autocomplete="new-password"
            class="input"
            aria-invalid={!!fields().password}
            value={password()}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </Field>
        <Field id="user-role" label={t('users.role')}>
          <select
            id="user-role"
            class="input"
            value={role()}
            onChange={(e) => setRole(e.currentTarget.value as Role)}
          >
            <For each={ROLES}>{(r) => <option value={r}>{r}</option>}</For>
          </select>
        </Field>
        <FormFooter error={rest()} onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}
