import { render, waitFor } from '@solidjs/testing-library';
import { describe, expect, it, vi } from 'vitest';
import { setLocale } from '../lib/i18n';
import QuotaGauges from './QuotaGauges';

const charts = vi.hoisted(() => [] as { options: unknown[]; disposed: boolean }[]);
vi.mock('../lib/echarts', () => ({
  init: () => {
    const c = { options: [] as unknown[], disposed: false };
    charts.push(c);
    return {
      setOption: (o: unknown) => c.options.push(o),
      resize: () => {},
      dispose: () => {
        c.disposed = true;
      },
    };
  },
}));

describe('Chart (ECharts wrapper)', () => {
  it('initialises lazily, one gauge per quota, and disposes on unmount', async () => {
    setLocale('en');
    const before = charts.length;
    const { unmount, getAllByRole } = render(() => (
      <QuotaGauges utilization={{ cpu: 25, memory: 50.04, gpu: 0 }} />
    ));
    expect(getAllByRole('img').map((e) => e.getAttribute('aria-label'))).toEqual([
      'CPU 25%',
      'Memory 50.04%',
      'GPU 0%',
    ]);
    await waitFor(() => expect(charts.length).toBe(before + 3));
    const mine = charts.slice(before);
    const series = mine.map(
      (c) => (c.options[0] as { series: { type: string; data: { value: number }[] }[] }).series[0]!,
    );
    expect(series.map((s) => s.type)).toEqual(['gauge', 'gauge', 'gauge']);
    expect(series[1]!.data[0]!.value).toBe(50);
    unmount();
    expect(mine.every((c) => c.disposed)).toBe(true);
  });
});
