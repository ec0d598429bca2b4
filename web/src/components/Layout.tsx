/** The signed-in shell: header (language, theme, user), side navigation, main area. */
import { A, Navigate, type RouteSectionProps, useLocation } from '@solidjs/router';
import { createSignal, For, Show, Suspense } from 'solid-js';
import { roleAtLeast, session, setSession } from '../api/client';
import { locale, type MessageKey, setLocale, t } from '../lib/i18n';
import { theme, toggleTheme } from '../lib/theme';

const NAV: { href: string; key: MessageKey; icon: string; admin?: boolean }[] = [
  { href: '/compute', key: 'nav.resources', icon: 'i-carbon-data-center' },
  { href: '/applications', key: 'nav.applications', icon: 'i-carbon-application' },
  { href: '/monitor', key: 'nav.status', icon: 'i-carbon-activity' },
  { href: '/nodes', key: 'nav.nodes', icon: 'i-carbon-assembly-cluster' },
  { href: '/users', key: 'nav.users', icon: 'i-carbon-user-multiple', admin: true },
  { href: '/tokens', key: 'nav.tokens', icon: 'i-carbon-password' },
];

export function HeaderControls() {
  return (
    <>
      <button
        type="button"
        class="btn-ghost"
        aria-label={t('lang.label')}
        data-testid="lang-switch"
        onClick={() => setLocale(locale() === 'zh-CN' ? 'en' : 'zh-CN')}
      >
        <span class="i-carbon-language" aria-hidden="true" />
        {t('lang.switch')}
      </button>
      <button
        type="button"
        class="btn-icon"
        data-testid="theme-switch"
        aria-label={theme() === 'dark' ? t('theme.light') : t('theme.dark')}
        aria-pressed={theme() === 'dark'}
        onClick={toggleTheme}
      >
        <span class={theme() === 'dark' ? 'i-carbon-sun' : 'i-carbon-moon'} aria-hidden="true" />
      </button>
    </>
  );
}

export function Layout(props: RouteSectionProps) {
  const location = useLocation();
  const [menuOpen, setMenuOpen] = createSignal(false);
  const items = () => NAV.filter((n) => !n.admin || roleAtLeast(session()?.user.role, 'admin'));
  return (
    <Show
      when={session()}
      fallback={<Navigate href={`/login?next=${encodeURIComponent(location.pathname)}`} />}
    >
      {(s) => (
        <div class="min-h-screen flex flex-col">
          <a
            href="#main"
            class="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 bg-white text-blue-700 p-2 z-50"
          >
            {t('nav.skip')}
          </a>
          <header class="flex items-center gap-2 px-3 sm:px-4 h-14 border-b border-gray-200 dark:border-gray-800 bg-white dark:bg-gray-900">
            <button
              type="button"
              class="btn-icon md:hidden"
              aria-label={t('nav.menu')}
              aria-expanded={menuOpen()}
              aria-controls="side-nav"
              onClick={() => setMenuOpen(!menuOpen())}
            >
              <span class="i-carbon-menu" aria-hidden="true" />
            </button>
            <span class="i-carbon-network-4 text-xl text-blue-600" aria-hidden="true" />
            <span class="font-semibold truncate">{t('app.title')}</span>
            <div class="ml-auto flex items-center gap-1 sm:gap-2">
              <HeaderControls />
              <span class="hidden sm:inline text-sm text-gray-500" data-testid="current-user">
                {s().user.username} · {s().user.role}
              </span>
              <button
                type="button"
                class="btn-icon"
                aria-label={t('auth.logout')}
                title={t('auth.logout')}
                onClick={() => setSession(null)}
              >
                <span class="i-carbon-logout" aria-hidden="true" />
              </button>
            </div>
          </header>
          <div class="flex flex-1 min-h-0">
            <nav
              id="side-nav"
              aria-label={t('nav.main')}
              class={`${menuOpen() ? 'block' : 'hidden'} md:block w-full md:w-52 shrink-0 border-r border-gray-200 dark:border-gray-800 bg-white dark:bg-gray-900 absolute md:static z-40 top-14 md:top-auto`}
            >
              <ul class="p-2 space-y-1">
                <For each={items()}>
                  {(n) => (
                    <li>
                      <A
                        href={n.href}
                        class="flex items-center gap-2 px-3 py-2 rounded text-sm hover:bg-gray-100 dark:hover:bg-gray-800 focus-visible:outline-2 focus-visible:outline-blue-500"
                        activeClass="bg-blue-50 text-blue-700 dark:bg-blue-950 dark:text-blue-300 font-medium"
                        onClick={() => setMenuOpen(false)}
                      >
                        <span class={n.icon} aria-hidden="true" />
                        {t(n.key)}
                      </A>
                    </li>
                  )}
                </For>
              </ul>
            </nav>
            <main id="main" class="flex-1 min-w-0 p-3 sm:p-6" tabIndex={-1}>
              <Suspense fallback={<p class="text-gray-500">{t('common.loading')}</p>}>
                {props.children}
              </Suspense>
            </main>
          </div>
        </div>
      )}
    </Show>
  );
}
