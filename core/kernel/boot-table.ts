/** `iarnet plugins`: the boot order with setup/start timings. */
import type { PluginTiming } from './loader.ts';

export function formatBootTable(rows: PluginTiming[]): string {
  const ms = (x?: number) => (x === undefined ? '-' : `${x.toFixed(1)} ms`);
  const lines = rows.map((r, i) =>
    [
      String(i + 1).padStart(2),
      r.name.padEnd(20),
      r.version.padEnd(10),
      ms(r.setupMs).padStart(10),
      ms(r.startMs).padStart(10),
      r.dependencies.join(', ') || '-',
    ].join('  '),
  );
  const head = [
    '#'.padStart(2),
    'plugin'.padEnd(20),
    'version'.padEnd(10),
    'setup'.padStart(10),
    'start'.padStart(10),
    'depends on',
  ].join('  ');
  return `${[head, ...lines].join('\n')}\n`;
}
