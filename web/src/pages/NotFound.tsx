import { t } from '../lib/i18n';

export default function NotFound() {
  return <h1 class="text-xl font-semibold">{t('notFound')}</h1>;
}
