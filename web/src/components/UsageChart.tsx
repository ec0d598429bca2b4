/** CPU and memory utilization over time as two ECharts lines; loaded lazily with ECharts. */
import { t } from '../lib/i18n';
import type { UsageSample } from '../lib/usage';
import { Chart } from './Chart';

export default function UsageChart(props: { samples: UsageSample[] }) {
  const option = () => ({
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => `${v}%` },
    legend: { data: [t('st.usageCpu'), t('st.usageMem')], bottom: 0 },
    grid: { left: 40, right: 16, top: 16, bottom: 48 },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
    series: [
      {
        name: t('st.usageCpu'),
        type: 'line',
        showSymbol: false,
        data: props.samples.map((s) => [s.at, s.cpu]),
      },
      {
        name: t('st.usageMem'),
        type: 'line',
        showSymbol: false,
        data: props.samples.map((s) => [s.at, s.memory]),
      },
    ],
  });
  return <Chart option={option()} label={t('st.usage')} class="w-full h-56" />;
}
