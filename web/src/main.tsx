import 'virtual:uno.css';
import { render } from 'solid-js/web';
import { App } from './App';
import { locale } from './lib/i18n';

document.documentElement.lang = locale();
const root = document.getElementById('root');
if (root) render(() => <App />, root);
