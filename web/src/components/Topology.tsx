/** The topology graph (ECharts graph series, force layout); loaded lazily with ECharts. */
import { createMemo } from 'solid-js';
import { type MessageKey, t } from '../lib/i18n';
import { buildTopology, CATEGORIES } from '../lib/topology';
import { Chart } from './Chart';

type Input = Parameters<typeof buildTopology>[0];

export default function Topology(props: Input) {
  // Same graph → no new option, so a periodic re-read does not restart the force layout.
  const graph = createMemo(() => buildTopology(props), undefined, {
    equals: (a, b) => JSON.stringify(a) === JSON.stringify(b),
  });
  const option = () => ({
    tooltip: {
      formatter: (p: { data?: { name?: string; value?: string } }) =>
        `${p.data?.name ?? ''}<br/>${p.data?.value ?? ''}`,
    },
    legend: [{ data: CATEGORIES.map((c) => t(`topo.${c}` as MessageKey)), bottom: 0 }],
    series: [
      {
        type: 'graph',
        layout: 'force',
        roam: true,
        draggable: true,
        label: { show: true, position: 'right', fontSize: 11 },
        force: { repulsion: 180, edgeLength: [40, 90], gravity: 0.08 },
        categories: CATEGORIES.map((c) => ({ name: t(`topo.${c}` as MessageKey) })),
        data: graph().nodes,
        links: graph().links,
        lineStyle: { opacity: 0.6, curveness: 0.1 },
      },
    ],
  });
  return (
    <div data-testid="topology" data-nodes={graph().nodes.length}>
      <Chart option={option()} label={t('topo.title')} class="w-full h-80 sm:h-96" />
    </div>
  );
}
