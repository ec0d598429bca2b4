/**
 * Asking an engine for its capacity, bounded in time, with an outcome that is safe to show and
 * store: the reason is one of a few generic phrases, never what the endpoint answered (a resource
 * URL must not turn IARNet into a tool for reading other services on its network).
 */
import {
  type Capacity,
  type Runner,
  RunnerPermissionError,
  RunnerUnreachableError,
} from '../../slots/runner.ts';

export type ProbeOutcome =
  | { ok: true; capacity: Capacity }
  | { ok: false; status: 'unreachable' | 'error'; reason: string };

/** Short phrases a runner may attach (DockerUnreachableError.kind) that reveal nothing of the answer. */
const SAFE_KIND = /^[A-Za-z][A-Za-z ]{2,40}$/;

/** A permission phrase a runner reports ("create pods in namespace iarnet-test"): words, no answer text. */
const SAFE_PERMISSION = /^[a-z]{2,16} [a-z./-]{2,64}(?: in namespace [a-z0-9-]{1,63}| \(cluster-wide\))?$/;

const LIMITS = { cpu: 1_000_000, memory: 2 ** 60, gpu: 100_000, storage: 2 ** 62 };

/**
 * Call `runner.capacity()` and wait at most `timeoutMs`. The answer must look like an engine's
 * (positive CPU and memory, whole GPUs): an HTTP server that answers anything with 200 is not one.
 */
export async function probeCapacity(runner: Runner, type: string, timeoutMs: number): Promise<ProbeOutcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  let result: Capacity | 'timeout';
  try {
    // A runner that can check its rights (Kubernetes: access reviews) does so after capacity.
    const call = runner.capacity().then(async (c) => {
      await runner.checkAccess?.();
      return c;
    });
    // A late rejection after the timeout has nobody to report to.
    call.catch(() => undefined);
    result = await Promise.race([call, timeout]);
  } catch (err) {
    return failure(err, type);
  } finally {
    clearTimeout(timer);
  }
  if (result === 'timeout') {
    return { ok: false, status: 'unreachable', reason: `no answer within ${formatSeconds(timeoutMs)}` };
  }
  const capacity = sanitizeCapacity(result);
  if (!capacity) return notAnEngine(type);
  return { ok: true, capacity };
}

/** A failure to build a runner or call it, as a generic outcome. */
export function failure(err: unknown, type: string): ProbeOutcome {
  if (err instanceof RunnerPermissionError) {
    const missing = err.missing.filter((m) => SAFE_PERMISSION.test(m));
    return {
      ok: false,
      status: 'error',
      reason: missing.length
        ? `the credentials are missing permissions: ${missing.join('; ')}`
        : 'the credentials are missing permissions',
    };
  }
  if (err instanceof RunnerUnreachableError) {
    const kind = (err as { kind?: unknown }).kind;
    return {
      ok: false,
      status: 'unreachable',
      reason:
        typeof kind === 'string' && SAFE_KIND.test(kind)
          ? `cannot reach the ${type} endpoint: ${kind}`
          : `cannot reach the ${type} endpoint`,
    };
  }
  return notAnEngine(type);
}

function notAnEngine(type: string): ProbeOutcome {
  return {
    ok: false,
    status: 'error',
    reason: `the endpoint did not answer like a ${type} engine, or refused the request`,
  };
}

function sanitizeCapacity(c: unknown): Capacity | undefined {
  if (!c || typeof c !== 'object') return undefined;
  const { cpu, memory, gpu, storage, description } = c as Record<string, unknown>;
  const num = (x: unknown, min: number, max: number) =>
    typeof x === 'number' && Number.isFinite(x) && x >= min && x <= max ? x : undefined;
  const out: Capacity = {
    cpu: num(cpu, Number.MIN_VALUE, LIMITS.cpu) ?? Number.NaN,
    memory: num(memory, 1, LIMITS.memory) ?? Number.NaN,
    gpu: num(gpu, 0, LIMITS.gpu) ?? Number.NaN,
  };
  if (Number.isNaN(out.cpu) || Number.isNaN(out.memory) || !Number.isInteger(out.gpu)) return undefined;
  out.memory = Math.round(out.memory);
  const disk = num(storage, 0, LIMITS.storage);
  if (disk !== undefined) out.storage = Math.round(disk);
  if (typeof description === 'string') {
    // Engine-provided text shown to operators: printable, one line, short.
    const clean = description
      .replace(/\p{Cc}+/gu, ' ')
      .trim()
      .slice(0, 200);
    if (clean) out.description = clean;
  }
  return out;
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
