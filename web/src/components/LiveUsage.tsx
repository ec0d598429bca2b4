/**
 * Live CPU % and memory of a running container (GET /api/containers/{id}/stats), re-read on each
 * refresh tick while its row is on screen. Reads go through a shared limit of two at a time, so a
 * page with a hundred containers neither floods the engine nor delays the list itself.
 * A plain signal, not a resource, so it never suspends the page; failures show nothing.
 */
import { createEffect, createSignal, onCleanup, onMount, Show } from 'solid-js';
import { api } from '../api/client';
import type { paths } from '../api/schema';
import { fmtBytes, fmtNumber } from '../lib/format';
import { createLimit } from '../lib/limit';

type Stats = paths['/api/containers/{id}/stats']['get']['responses'][200]['content']['application/json'];

const limit = createLimit(2);

export function LiveUsage(props: { id: string; tick: number }) {
  const [stats, setStats] = createSignal<Stats | undefined>();
  // Without IntersectionObserver (tests, old browsers) every row counts as visible.
  const [visible, setVisible] = createSignal(typeof IntersectionObserver === 'undefined');
  let el: HTMLSpanElement | undefined;
  let inFlight = false;
  let alive = true;

  onMount(() => {
    if (typeof IntersectionObserver === 'undefined' || !el) return;
    const io = new IntersectionObserver((entries) => setVisible(entries.some((e) => e.isIntersecting)));
    io.observe(el);
    onCleanup(() => io.disconnect());
  });
  onCleanup(() => {
    alive = false;
  });

  createEffect(() => {
    const id = props.id;
    void props.tick;
    if (!visible() || inFlight) return;
    inFlight = true;
    limit(() =>
      alive
        ? api.GET('/api/containers/{id}/stats', { params: { path: { id } } })
        : Promise.resolve(undefined),
    )
      .then((r) => r?.data && alive && setStats(r.data))
      .catch(() => {})
      .finally(() => {
        inFlight = false;
      });
  });
  return (
    <span ref={el} class="block min-h-px">
      <Show when={stats()}>
        {(s) => (
          <span class="block text-xs text-gray-500" data-testid="live-usage">
            CPU {fmtNumber(s().cpuPercent, 1)}% · {fmtBytes(s().memoryBytes)}
          </span>
        )}
      </Show>
    </span>
  );
}
