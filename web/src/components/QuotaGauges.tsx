/** Quota utilization as three ECharts gauges (loaded with the Status page's lazy chunk). */
import { For } from 'solid-js';
import { t } from '../lib/i18n';
import { Chart } from './Chart';

type Utilization = { cpu: number; memory: number; gpu: number };

function gaugeOption(name: string, value: number) {
  return {
    tooltip: { formatter: '{b}: {c}%' },
    series: [
      {
        type: 'gauge',
        center: ['50%', '58%'],
        radius: '88%',
        min: 0,
        max: 100,
        progress: { show: true, width: 8 },
        axisLine: { lineStyle: { width: 8 } },
        axisTick: { show: false },
        splitLine: { show: false },
        axisLabel: { show: false },
        pointer: { show: false },
        anchor: { show: false },
        title: { offsetCenter: [0, '55%'], fontSize: 12 },
        detail: { offsetCenter: [0, '0%'], fontSize: 16, formatter: '{value}%' },
        data: [{ value: Math.round(value * 10) / 10, name }],
      },
    ],
  };
}

export default function QuotaGauges(props: { utilization: Utilization }) {
  const items = () => [
    { name: t('st.quotaCpu'), value: props.utilization.cpu },
    { name: t('st.quotaMem'), value: props.utilization.memory },
    { name: t('st.quotaGpu'), value: props.utilization.gpu },
  ];
  return (
    <div class="grid grid-cols-3 gap-2">
      <For each={items()}>
        {(g) => (
          <Chart
            option={gaugeOption(g.name, g.value)}
            label={`${g.name} ${g.value}%`}
            class="w-full h-32 sm:h-44"
          />
        )}
      </For>
    </div>
  );
}
