import { useNavigate, useSearchParams } from '@solidjs/router';
import { createSignal, Show } from 'solid-js';
import { api, session, setSession } from '../api/client';
import { HeaderControls } from '../components/Layout';
import { t } from '../lib/i18n';

export function LoginPage() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [username, setUsername] = createSignal('');
  const [password, setPassword] = createSignal('');
  const [error, setError] = createSignal('');
  const [busy, setBusy] = createSignal(false);

  const next = () => {
    const n = typeof params.next === 'string' ? params.next : '';
    return n.startsWith('/') && !n.startsWith('//') && n !== '/login' ? n : '/compute';
  };
  if (session()) queueMicrotask(() => navigate(next(), { replace: true }));

  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    setError('');
    if (!username().trim() || !password()) {
      setError(t('auth.required'));
      return;
    }
    setBusy(true);
    try {
      const { data, response } = await api.POST('/api/auth/login', {
        body: { username: username().trim(), password: password() },
      });
      if (data) {
        setSession(data);
        navigate(next(), { replace: true });
      } else setError(response.status === 429 ? t('auth.tooMany') : t('auth.failed'));
    } catch {
      setError(t('common.error'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="min-h-screen flex flex-col items-center justify-center p-4">
      <div class="absolute top-3 right-3 flex gap-2">
        <HeaderControls />
      </div>
      <form class="card w-full max-w-sm" onSubmit={submit} noValidate aria-labelledby="login-title">
        <div class="flex items-center gap-2 mb-1">
          <span class="i-carbon-network-4 text-2xl text-blue-600" aria-hidden="true" />
          <h1 id="login-title" class="text-xl font-semibold">
            {t('app.title')}
          </h1>
        </div>
        <p class="text-sm text-gray-500 mb-4">{t('auth.subtitle')}</p>
        <div class="mb-3">
          <label class="label" for="login-username">
            {t('auth.username')}
          </label>
          <input
            id="login-username"
            name="username"
            class="input"
            autocomplete="username"
            value={username()}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </div>
        <div class="mb-3">
          <label class="label" for="login-password">
            {t('auth.password')}
          </label>
          <input
            id="login-password"
            name="password"
            type="password"
            class="input"
            autocomplete="current-password"
            value={password()}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </div>
        <Show when={error()}>
          <p class="field-error mb-3" role="alert">
            {error()}
          </p>
        </Show>
        <button type="submit" class="btn-primary w-full justify-center" disabled={busy()}>
          {busy() ? t('auth.signingIn') : t('auth.login')}
        </button>
      </form>
    </main>
  );
}
