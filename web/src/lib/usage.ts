/**
 * Usage samples for the Status page's chart: quota utilization (percent) each time the page reads
 * /api/quota (on every refresh and live event), kept for the session so the line survives
 * navigating away and back. Bounded, so a page left open for days stays small.
 */
import { createSignal } from 'solid-js';

export interface UsageSample {
  at: number;
  cpu: number;
  memory: number;
}

const MAX_SAMPLES = 360;
const [samples, setSamples] = createSignal<UsageSample[]>([]);

export { samples as usageSamples };

export function recordUsage(u: { cpu: number; memory: number }, at = Date.now()): void {
  const round = (n: number) => Math.round(n * 10) / 10;
  setSamples((s) => [...s, { at, cpu: round(u.cpu), memory: round(u.memory) }].slice(-MAX_SAMPLES));
}

export function clearUsage(): void {
  setSamples([]);
}
