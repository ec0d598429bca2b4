/**
 * A small ECharts wrapper: init on mount, resize with a ResizeObserver, setOption when the
 * option changes, dispose on cleanup. ECharts itself is loaded lazily (see ../lib/echarts.ts).
 */

import type { EChartsCoreOption } from 'echarts/core';
import { createEffect, onCleanup, onMount } from 'solid-js';
import { theme } from '../lib/theme';

let loading: Promise<typeof import('../lib/echarts')> | undefined;
/** One lazy import of ECharts, shared by every chart on the page. */
const loadEcharts = () => {
  loading ??= import('../lib/echarts');
  return loading;
};

export function Chart(props: { option: EChartsCoreOption; label: string; class?: string }) {
  let el: HTMLDivElement | undefined;
  let chart:
    | {
        setOption: (o: EChartsCoreOption, notMerge?: boolean) => void;
        resize: () => void;
        dispose: () => void;
      }
    | undefined;
  let ro: ResizeObserver | undefined;
  let disposed = false;

  const init = async () => {
    const echarts = await loadEcharts();
    if (disposed || !el) return;
    chart?.dispose();
    chart = echarts.init(el, theme() === 'dark' ? 'dark' : undefined, { renderer: 'canvas' });
    chart.setOption({ backgroundColor: 'transparent', ...props.option });
  };

  onMount(() => {
    void init();
    if (typeof ResizeObserver !== 'undefined' && el) {
      ro = new ResizeObserver(() => chart?.resize());
      ro.observe(el);
    }
  });
  // Re-create on theme change; update on option change.
  let lastTheme = theme();
  createEffect(() => {
    const th = theme();
    const option = props.option;
    if (th !== lastTheme) {
      lastTheme = th;
      void init();
    } else chart?.setOption({ backgroundColor: 'transparent', ...option });
  });
  onCleanup(() => {
    disposed = true;
    ro?.disconnect();
    chart?.dispose();
  });
  return <div ref={el} role="img" aria-label={props.label} class={props.class ?? 'w-full h-56'} />;
}
