/**
 * Placement: which resource gets a run. Policy: best fit by dominant share — among resources
 * with room, pick the one whose most-used dimension (CPU, memory or GPU as a share of its
 * capacity) is fullest after placement. Packing small runs tightly keeps large holes free for
 * large runs (the reason Nomad's default is bin packing). Ties go to the earlier resource.
 */
import type { Usage } from './ledger/types.ts';

export interface Candidate {
  id: string;
  name: string;
  /** Effective capacity in ledger units. */
  capacity: Usage;
  used: Usage;
}

export type ShortKind = 'CPU' | 'memory' | 'GPU';

/** The first dimension in which `need` does not fit into `free`, in the document's order. */
export function shortOf(need: Usage, free: Usage): ShortKind | undefined {
  if (need.cpuMilli > free.cpuMilli) return 'CPU';
  if (need.memory > free.memory) return 'memory';
  if (need.gpu > free.gpu) return 'GPU';
  return undefined;
}

export const freeOf = (capacity: Usage, used: Usage): Usage => ({
  cpuMilli: capacity.cpuMilli - used.cpuMilli,
  memory: capacity.memory - used.memory,
  gpu: capacity.gpu - used.gpu,
});

function dominantShareAfter(c: Candidate, need: Usage): number {
  const share = (used: number, add: number, cap: number) =>
    cap > 0 ? (used + add) / cap : add > 0 ? Infinity : 0;
  return Math.max(
    share(c.used.cpuMilli, need.cpuMilli, c.capacity.cpuMilli),
    share(c.used.memory, need.memory, c.capacity.memory),
    share(c.used.gpu, need.gpu, c.capacity.gpu),
  );
}

export type Placement = { ok: true; candidate: Candidate } | { ok: false; short: ShortKind; tried: string[] };

export function place(need: Usage, candidates: Candidate[]): Placement {
  let best: { c: Candidate; score: number } | undefined;
  let firstShort: ShortKind | undefined;
  for (const c of candidates) {
    const short = shortOf(need, freeOf(c.capacity, c.used));
    if (short) {
      firstShort ??= short;
      continue;
    }
    const score = dominantShareAfter(c, need);
    if (!best || score > best.score) best = { c, score };
  }
  if (best) return { ok: true, candidate: best.c };
  return { ok: false, short: firstShort ?? 'CPU', tried: candidates.map((c) => c.name) };
}
