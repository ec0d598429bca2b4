/** Docker stats arithmetic, on a sample recorded from Docker 20.10 (cgroup v1, 2 CPUs, NanoCpus 0.5). */
import { describe, expect, it } from 'vitest';
import {
  blockIo,
  cpuPercent,
  type DockerStatsSample,
  hasCpuSample,
  memoryUsage,
  networkTotals,
  toWorkloadStats,
} from '../../plugins/runner-docker/stats.ts';

// stats({stream:false}) of a busybox loop under NanoCpus=5e8, Memory=64 MiB (trimmed).
const RECORDED: DockerStatsSample = {
  read: '2026-11-26T12:44:52.163720938Z',
  blkio_stats: { io_service_bytes_recursive: [] },
  cpu_stats: {
    cpu_usage: { total_usage: 34450097, percpu_usage: [23888277, 10561820] },
    system_cpu_usage: 1979850000000,
    online_cpus: 2,
  },
  precpu_stats: {
    cpu_usage: { total_usage: 28891886, percpu_usage: [20544902, 8346984] },
    system_cpu_usage: 1977820000000,
    online_cpus: 2,
  },
  memory_stats: {
    usage: 532480,
    limit: 67108864,
    stats: { cache: 0, inactive_file: 0, total_inactive_file: 0, rss: 110592 },
  },
  networks: { eth0: { rx_bytes: 736, tx_bytes: 0 } },
};

// What the same engine answers with `one-shot` (and some engines always): no previous sample.
const EMPTY_PRECPU = { cpu_usage: { total_usage: 0 } };

describe('cpuPercent', () => {
  it('follows the Docker CLI formula on the recorded sample', () => {
    // (34450097-28891886) / (1979850000000-1977820000000) * 2 * 100
    expect(cpuPercent(RECORDED.precpu_stats!, RECORDED.cpu_stats!)).toBeCloseTo(0.5476, 3);
  });

  it('gives 50% for half a core busy on a 4-CPU host, 200% for two full cores', () => {
    const prev = { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0, online_cpus: 4 };
    // system usage counts all CPUs: 1 s of wall time on 4 CPUs = 4e9 ns
    expect(
      cpuPercent(prev, { cpu_usage: { total_usage: 0.5e9 }, system_cpu_usage: 4e9, online_cpus: 4 }),
    ).toBe(50);
    expect(cpuPercent(prev, { cpu_usage: { total_usage: 2e9 }, system_cpu_usage: 4e9, online_cpus: 4 })).toBe(
      200,
    );
  });

  it('counts per-CPU entries when online_cpus is missing (old engines)', () => {
    const prev = { cpu_usage: { total_usage: 0 }, system_cpu_usage: 0 };
    const cur = { cpu_usage: { total_usage: 1e9, percpu_usage: [1, 1] }, system_cpu_usage: 2e9 };
    expect(cpuPercent(prev, cur)).toBe(100);
  });

  it('is 0, not negative or NaN, for no progress, counter resets and missing data', () => {
    const a = RECORDED.cpu_stats!;
    expect(cpuPercent(a, a)).toBe(0);
    expect(cpuPercent(a, RECORDED.precpu_stats!)).toBe(0);
    expect(cpuPercent({}, {})).toBe(0);
  });
});

describe('hasCpuSample', () => {
  it('tells real readings from the empty precpu_stats', () => {
    expect(hasCpuSample(RECORDED.precpu_stats)).toBe(true);
    expect(hasCpuSample(EMPTY_PRECPU)).toBe(false);
    expect(hasCpuSample(undefined)).toBe(false);
  });
});

describe('memoryUsage', () => {
  it('subtracts total_inactive_file on cgroup v1', () => {
    expect(
      memoryUsage({ usage: 1000, stats: { total_inactive_file: 300, inactive_file: 100, cache: 600 } }),
    ).toBe(700);
  });
  it('subtracts inactive_file on cgroup v2', () => {
    expect(memoryUsage({ usage: 1000, stats: { inactive_file: 100, anon: 900 } })).toBe(900);
  });
  it('falls back to cache on old engines, and to raw usage when nothing fits', () => {
    expect(memoryUsage({ usage: 1000, stats: { cache: 250 } })).toBe(750);
    expect(memoryUsage({ usage: 1000, stats: { total_inactive_file: 5000 } })).toBe(1000);
    expect(memoryUsage({ usage: 1000 })).toBe(1000);
    expect(memoryUsage(undefined)).toBe(0);
  });
  it('uses the recorded sample as is (nothing inactive)', () => {
    expect(memoryUsage(RECORDED.memory_stats)).toBe(532480);
  });
});

describe('network and block I/O', () => {
  it('sums network bytes over interfaces', () => {
    expect(
      networkTotals({ eth0: { rx_bytes: 10, tx_bytes: 1 }, eth1: { rx_bytes: 5, tx_bytes: 2 } }),
    ).toEqual({ rx: 15, tx: 3 });
    expect(networkTotals(null)).toEqual({ rx: 0, tx: 0 });
  });
  it('sums read/write bytes over devices, cgroup v1 (Read/Write) and v2 (read/write)', () => {
    expect(
      blockIo({
        io_service_bytes_recursive: [
          { op: 'Read', value: 100 },
          { op: 'Write', value: 10 },
          { op: 'Sync', value: 999 },
          { op: 'Total', value: 110 },
          { op: 'read', value: 1 },
          { op: 'write', value: 2 },
        ],
      }),
    ).toEqual({ read: 101, write: 12 });
    expect(blockIo({ io_service_bytes_recursive: null })).toEqual({ read: 0, write: 0 });
  });
});

describe('toWorkloadStats', () => {
  it('builds the slot shape from the recorded sample', () => {
    expect(toWorkloadStats(RECORDED, RECORDED.precpu_stats)).toEqual({
      cpuPercent: 0.55,
      memoryBytes: 532480,
      memoryLimitBytes: 67108864,
      networkRxBytes: 736,
      networkTxBytes: 0,
      blockReadBytes: 0,
      blockWriteBytes: 0,
      at: '2026-11-26T12:44:52.163720938Z',
    });
  });

  it('measures against our own earlier reading when the engine gave none', () => {
    const first = { ...RECORDED, cpu_stats: RECORDED.precpu_stats, precpu_stats: EMPTY_PRECPU };
    const second = { ...RECORDED, precpu_stats: EMPTY_PRECPU };
    expect(toWorkloadStats(second, first.cpu_stats).cpuPercent).toBeCloseTo(0.55, 2);
  });

  it('reports zeros for a stopped container (zero read time, no CPU data)', () => {
    const s = toWorkloadStats(
      { read: '0001-01-01T00:00:00Z', cpu_stats: {}, precpu_stats: {}, memory_stats: {} },
      {},
    );
    expect(s.cpuPercent).toBe(0);
    expect(s.memoryBytes).toBe(0);
    expect(s.at).not.toMatch(/^0001/);
  });
});
