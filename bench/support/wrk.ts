/**
 * Driving `wrk` (a native load generator) from a benchmark: a Lua script that sends one fixed
 * request and counts answers by status in every thread, and a parser for the one JSON line its
 * done() prints. `sent` counts requests wrk generated; those without an answer when the run ended
 * were in flight (the server may still have completed them).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const WRK = '/usr/bin/wrk';
export const TASKSET = '/usr/bin/taskset';

export interface WrkResult {
  /** Requests generated. */
  sent: number;
  /** Answers with the expected status. */
  ok: number;
  /** Answers with any other status. */
  other: number;
  /** One of the unexpected statuses (0: none). */
  lastOther: number;
  durationUs: number;
  p50Us: number;
  p99Us: number;
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
  /** Answers per second with the expected status. */
  okPerSecond: number;
}

const lua = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** A wrk script for one request; counts `expect` answers as ok. */
export function wrkScript(opts: {
  method: string;
  body?: string;
  headers: Record<string, string>;
  expect: number;
}): string {
  const headers = Object.entries(opts.headers)
    .map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`)
    .join('\n');
  return `wrk.method = ${lua(opts.method)}
${opts.body === undefined ? '' : `wrk.body = ${lua(opts.body)}`}
${headers}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) sent = 0; ok = 0; other = 0; last_other = 0 end
function request() sent = sent + 1; return wrk.format() end
function response(status, headers, body)
  if status == ${opts.expect} then ok = ok + 1 else other = other + 1; last_other = status end
end
function done(summary, latency, requests)
  local s, o, x, lo = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("sent"); o = o + t:get("ok"); x = x + t:get("other")
    if t:get("last_other") ~= 0 then lo = t:get("last_other") end
  end
  local e = summary.errors
  io.write(string.format('WRKJSON {"sent":%d,"ok":%d,"other":%d,"lastOther":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}}\\n',
    s, o, x, lo, summary.duration, latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.timeout, e.status))
end
`;
}

export function writeScript(script: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'iarnet-wrk-')), 'script.lua');
  writeFileSync(file, script);
  return file;
}

/** Prefix that pins a command to one CPU (empty when taskset is missing). */
export const pinned = (cpu: number | undefined) =>
  cpu !== undefined && existsSync(TASKSET) ? [TASKSET, '-c', String(cpu)] : [];

export async function runWrk(opts: {
  url: string;
  script: string;
  connections: number;
  seconds: number;
  threads?: number;
  cpu?: number;
}): Promise<WrkResult> {
  const argv = [
    ...pinned(opts.cpu),
    WRK,
    `-t${opts.threads ?? 1}`,
    `-c${opts.connections}`,
    `-d${opts.seconds}s`,
    '--timeout',
    '10s',
    '-s',
    opts.script,
    opts.url,
  ];
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}): ${err || out}`);
  const r = JSON.parse(line.slice('WRKJSON '.length)) as Omit<WrkResult, 'okPerSecond'>;
  return { ...r, okPerSecond: r.ok / (r.durationUs / 1e6) };
}
