/**
 * Docker stats arithmetic, following the Docker CLI (`docker stats`):
 * - CPU% = (container CPU delta / system CPU delta) × online CPUs × 100, between two readings.
 *   `stats({stream: false})` fills `precpu_stats` on some engines and leaves it empty on others,
 *   so the runner takes a second reading when the first carries no previous sample.
 * - Memory = usage minus inactive file pages (cgroup v1 `total_inactive_file`, v2
 *   `inactive_file`; old engines report only `cache`), since page cache can be reclaimed.
 * - Network = rx/tx summed over interfaces; block I/O = read/write bytes summed over devices.
 */
import type { WorkloadStats } from '../../core/slots/runner.ts';

export interface CpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
  system_cpu_usage?: number;
  online_cpus?: number;
}

export interface MemoryStats {
  usage?: number;
  limit?: number;
  stats?: Record<string, number> | null;
}

export interface BlkioEntry {
  op?: string;
  value?: number;
}

export interface DockerStatsSample {
  read?: string;
  cpu_stats?: CpuStats;
  precpu_stats?: CpuStats;
  memory_stats?: MemoryStats;
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }> | null;
  blkio_stats?: { io_service_bytes_recursive?: BlkioEntry[] | null };
}

/** Whether a CPU reading is a real sample (engines send zeros where they have none). */
export function hasCpuSample(cpu: CpuStats | undefined): cpu is CpuStats {
  return !!cpu && (cpu.system_cpu_usage ?? 0) > 0 && (cpu.cpu_usage?.total_usage ?? 0) >= 0;
}

/** CPU percent between an earlier and a later reading (100 = one full core). */
export function cpuPercent(prev: CpuStats, cur: CpuStats): number {
  const cpuDelta = (cur.cpu_usage?.total_usage ?? 0) - (prev.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cur.system_cpu_usage ?? 0) - (prev.system_cpu_usage ?? 0);
  const online = cur.online_cpus || cur.cpu_usage?.percpu_usage?.length || 0;
  if (systemDelta <= 0 || cpuDelta <= 0 || online <= 0) return 0;
  return (cpuDelta / systemDelta) * online * 100;
}

/** Memory in use, page cache excluded (Docker CLI's rule). */
export function memoryUsage(mem: MemoryStats | undefined): number {
  const usage = mem?.usage ?? 0;
  const s = mem?.stats ?? {};
  for (const key of ['total_inactive_file', 'inactive_file', 'cache'] as const) {
    const v = s[key];
    if (v !== undefined && v < usage) return usage - v;
  }
  return usage;
}

export function networkTotals(networks: DockerStatsSample['networks']): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  return { rx, tx };
}

export function blockIo(blkio: DockerStatsSample['blkio_stats']): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const e of blkio?.io_service_bytes_recursive ?? []) {
    const op = e.op?.[0];
    if (op === 'r' || op === 'R') read += e.value ?? 0;
    else if (op === 'w' || op === 'W') write += e.value ?? 0;
  }
  return { read, write };
}

/** One WorkloadStats from the latest reading and the CPU reading to measure against. */
export function toWorkloadStats(cur: DockerStatsSample, prevCpu: CpuStats | undefined): WorkloadStats {
  const net = networkTotals(cur.networks);
  const blk = blockIo(cur.blkio_stats);
  const cpu =
    prevCpu && cur.cpu_stats && hasCpuSample(cur.cpu_stats) ? cpuPercent(prevCpu, cur.cpu_stats) : 0;
  const read = cur.read && !cur.read.startsWith('0001-') ? cur.read : new Date().toISOString();
  return {
    cpuPercent: Math.round(cpu * 100) / 100,
    memoryBytes: memoryUsage(cur.memory_stats),
    memoryLimitBytes: cur.memory_stats?.limit ?? 0,
    networkRxBytes: net.rx,
    networkTxBytes: net.tx,
    blockReadBytes: blk.read,
    blockWriteBytes: blk.write,
    at: read,
  };
}
