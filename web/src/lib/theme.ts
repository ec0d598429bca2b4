/** Light/dark theme: the `dark` class on <html> (UnoCSS dark: 'class'), saved in localStorage. */
import { createSignal } from 'solid-js';

export type Theme = 'light' | 'dark';
const KEY = 'iarnet.theme';

function initial(): Theme {
  if (typeof document !== 'undefined' && document.documentElement.classList.contains('dark')) return 'dark';
  return 'light';
}

const [theme, setThemeSignal] = createSignal<Theme>(initial());

export { theme };

export function setTheme(next: Theme): void {
  document.documentElement.classList.toggle('dark', next === 'dark');
  try {
    localStorage.setItem(KEY, next);
  } catch {}
  setThemeSignal(next);
}

export const toggleTheme = () => setTheme(theme() === 'dark' ? 'light' : 'dark');
