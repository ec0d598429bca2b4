/** Only the ECharts parts the dashboard uses (gauges, tooltips, canvas); imported lazily. */
import { GaugeChart } from 'echarts/charts';
import { TooltipComponent } from 'echarts/components';
import { init, use } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

use([GaugeChart, TooltipComponent, CanvasRenderer]);

export { init };
