/**
 * Admission: how many run decisions per second the node makes, and how long one takes, when the
 * engine costs nothing (a no-op runner).
 *
 * (b1) QuotaLedger.reserve on SQLite, in-process: one caller at a time, then 8 concurrent callers,
 *      releasing after each so the quota never fills. Target: p99 ≤ 100 µs per reservation.
 *      Printed beside it: the same SQL straight on better-sqlite3 (support/sqlite-floor.ts), so
 *      what the ledger adds is read against this machine's own floor in the same run.
 * (b2) End-to-end `POST /run` over HTTP: bench/support/noop-server.ts as its own process pinned to
 *      CPU 0 — once on Node, once on Bun, whose HTTP servers differ most —, `wrk` (32 connections,
 *      10 s per pass) pinned to CPU 1, a tiny request (0.01 core,
 *      0.01 GB) against limits that never bind. After each pass the ledger (read from the node's
 *      SQLite file) must hold exactly one new allocation per 202 wrk counted, plus at most the
 *      requests still in flight when wrk stopped. Target: ≥ 5,000 POST /run per second.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { describeLedger, ledgerBench, RESERVE_TARGET_US } from './support/ledger-bench.ts';
import { sqliteFloor } from './support/sqlite-floor.ts';
import { type BenchResult, fmt, machineLoad, median } from './support/stats.ts';
import { pinned, runWrk, WRK, type WrkResult, writeScript, wrkScript } from './support/wrk.ts';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS_TARGET = 5_000;
const CONNECTIONS = 32;
const SECONDS = 10;
const PASSES = 3;
const SERVER_CPU = 0;
const LOAD_CPU = 1;
const BODY = JSON.stringify({
  image: 'iarnet-test/busybox:latest',
  command: ['sleep', '300'],
  cpu: 0.01,
  memory: 0.01,
});

interface NoopServer {
  url: string;
  db: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The node's runtimes measured for (b2): HTTP serving differs most between them. */
const SERVER_RUNTIMES = [
  { name: 'Node', argv: [process.execPath, '--import', 'tsx'] },
  { name: 'Bun', argv: [join(ROOT, 'node_modules/.bin/bun')] },
] as const;
type ServerRuntime = (typeof SERVER_RUNTIMES)[number];

async function startNoopServer(runtime: ServerRuntime): Promise<NoopServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-bench-noop-'));
  const [cmd, ...args] = [
    ...pinned(SERVER_CPU),
    ...runtime.argv,
    join(ROOT, 'bench/support/noop-server.ts'),
    dataDir,
  ];
  const child = spawn(cmd!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = await new Promise<{ url: string; db: string }>((resolveReady, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`noop server did not listen within 30 s\n${stderr.join('\n')}`)),
      30_000,
    );
    child.once('exit', (code) => reject(new Error(`noop server exited (${code})\n${stderr.join('\n')}`)));
    // Keep reading stdout for the whole run: the node logs synchronously and must never block on a full pipe.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{"bench":"listening"')) return;
      clearTimeout(timer);
      resolveReady(JSON.parse(line) as { url: string; db: string });
    });
  });
  return {
    ...ready,
    process: child,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Allocations in the node's ledger, once the count stops changing (in-flight requests done). */
async function settledLedgerCount(dbPath: string): Promise<{ total: number; active: number }> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const count = () =>
      db
        .prepare(`select count(*) as total, coalesce(sum(state <> 'released'), 0) as active from allocations`)
        .get() as {
        total: number;
        active: number;
      };
    let last = count();
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      const now = count();
      if (now.total === last.total) return now;
      last = now;
    }
  } finally {
    db.close();
  }
}

interface Pass {
  wrk: WrkResult;
  added: number;
  inFlight: number;
  exact: boolean;
}

async function runsPerSecond(runtime: ServerRuntime): Promise<{ passes: Pass[]; activeAfter: number }> {
  if (!existsSync(WRK)) throw new Error(`${WRK} is missing (apt-get install wrk)`);
  const server = await startNoopServer(runtime);
  let script: string | undefined;
  try {
    script = writeScript(
      wrkScript({
        method: 'POST',
        body: BODY,
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer operator-token' },
        expect: 202,
      }),
    );
    const url = `${server.url}/run`;
    const probe = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer operator-token' },
      body: BODY,
    });
    if (probe.status !== 202) throw new Error(`POST /run answered ${probe.status}: ${await probe.text()}`);
    // Warm-up (JIT, SQLite cache); its allocations count in the "before" of the first pass.
    await runWrk({ url, script, connections: CONNECTIONS, seconds: 2, cpu: LOAD_CPU });
    let before = await settledLedgerCount(server.db);
    const passes: Pass[] = [];
    for (let i = 0; i < PASSES; i++) {
      const wrk = await runWrk({ url, script, connections: CONNECTIONS, seconds: SECONDS, cpu: LOAD_CPU });
      const after = await settledLedgerCount(server.db);
      const added = after.total - before.total;
      const inFlight = wrk.sent - wrk.ok - wrk.other;
      passes.push({
        wrk,
        added,
        inFlight,
        // Each 202 is one allocation; requests cut off by wrk's end may have completed too.
        exact:
          wrk.other === 0 && added >= wrk.ok && added <= wrk.ok + inFlight && after.active === after.total,
      });
      before = after;
    }
    return { passes, activeAfter: before.active };
  } finally {
    await server.stop();
    if (script) rmSync(dirname(script), { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchResult> {
  const loadBefore = machineLoad();
  const ledger = await ledgerBench({ iterations: 10_000, callers: 8 });
  // The same SQL without IARNet, right after, on the same machine (context for the p99, not a target).
  const floor = await sqliteFloor({ iterations: 10_000 });
  const b1Pass =
    ledger.sequential.p99 <= RESERVE_TARGET_US && ledger.concurrent.serviceP99 <= RESERVE_TARGET_US;

  const measured: { runtime: ServerRuntime; passes: Pass[]; activeAfter: number; rate: number }[] = [];
  for (const runtime of SERVER_RUNTIMES) {
    const { passes, activeAfter } = await runsPerSecond(runtime);
    measured.push({ runtime, passes, activeAfter, rate: median(passes.map((p) => p.wrk.okPerSecond)) });
  }
  const ledgerOk = measured.every((m) => m.passes.every((p) => p.exact));
  const best = Math.max(...measured.map((m) => m.rate));
  const b2Pass = best >= RUNS_TARGET && ledgerOk;
  const loadAfter = machineLoad();

  const perRuntime = measured
    .map(
      (m) =>
        `${m.runtime.name}: median ${fmt(m.rate, 0)} POST /run/s (${m.activeAfter} active allocations at the end)\n          ` +
        m.passes
          .map(
            (p, i) =>
              `pass ${i + 1}: ${fmt(p.wrk.okPerSecond, 0)}/s, p50 ${fmt(p.wrk.p50Us / 1000, 1)} ms, p99 ${fmt(p.wrk.p99Us / 1000, 1)} ms, ` +
              `${p.wrk.ok} × 202, ${p.wrk.other} other${p.wrk.other ? ` (e.g. ${p.wrk.lastOther})` : ''}, ledger +${p.added} ` +
              `(${p.added - p.wrk.ok} completed after wrk's cut-off, ≤ ${p.inFlight} in flight) ${p.exact ? 'ok' : 'MISMATCH'}`,
          )
          .join('\n          '),
    )
    .join('\n        ');
  return {
    name: 'admission (no-op runner): QuotaLedger.reserve latency, POST /run per second',
    figure:
      `(b1) ${describeLedger(ledger)} [${b1Pass ? 'met' : 'missed'}]\n` +
      `      SQLite alone, same statements and checkpointing, one at a time: p50 ${fmt(floor.p50, 0)} µs, p99 ${fmt(floor.p99, 0)} µs ` +
      `(the ledger adds ${fmt(ledger.sequential.p50 - floor.p50, 0)} µs at p50, ${fmt(ledger.sequential.p99 - floor.p99, 0)} µs at p99)\n` +
      `      (b2) best runtime ${fmt(best, 0)} POST /run/s, median of ${PASSES} passes of ${SECONDS} s each (wrk -c${CONNECTIONS}, server CPU ${SERVER_CPU}, wrk CPU ${LOAD_CPU}) [${b2Pass ? 'met' : 'missed'}]\n        ${perRuntime}\n` +
      `      (${loadBefore} before, ${loadAfter} after)`,
    target: `(b1) reserve p99 ≤ ${RESERVE_TARGET_US} µs (one caller; 8 callers: its own statements, the shared COMMIT amortized in the throughput); (b2) ≥ ${RUNS_TARGET.toLocaleString('en')} POST /run/s with one allocation per 202`,
    pass: b1Pass && b2Pass,
  };
}
