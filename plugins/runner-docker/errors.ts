/**
 * Error translation between dockerode and the Runner slot. Connection failures become
 * RunnerUnreachableError with a generic message (no addresses, paths or engine text, so a
 * resource URL cannot be used to probe the network); the raw error stays in `cause` for logs.
 */
import { networkFailureKind } from '../../core/slots/connection-failure.ts';
import { RunnerUnreachableError } from '../../core/slots/runner.ts';

/** An HTTP error answered by the engine (dockerode sets `statusCode` and `json`). */
export interface EngineHttpError extends Error {
  statusCode: number;
  json?: unknown;
}

export function isEngineHttpError(err: unknown): err is EngineHttpError {
  return err instanceof Error && typeof (err as { statusCode?: unknown }).statusCode === 'number';
}

export function statusOf(err: unknown): number | undefined {
  return isEngineHttpError(err) ? err.statusCode : undefined;
}

/** The engine's own message (`{"message": "..."}`), without dockerode's "(HTTP code ...)" prefix. */
export function engineMessage(err: unknown): string {
  if (isEngineHttpError(err)) {
    const json = err.json as { message?: unknown } | string | Buffer | undefined;
    if (json && typeof json === 'object' && !Buffer.isBuffer(json) && typeof json.message === 'string') {
      return json.message;
    }
    if (typeof json === 'string' && json.trim()) return json.trim();
    return err.message.replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '').trim();
  }
  return err instanceof Error ? err.message : String(err);
}

/** An error the engine answered with, passed on with its status and the engine's message. */
export class DockerEngineError extends Error {
  override name = 'DockerEngineError';
  readonly statusCode: number;
  constructor(what: string, cause: EngineHttpError) {
    super(`${what}: ${truncate(engineMessage(cause), 500)}`, { cause });
    this.statusCode = cause.statusCode;
  }
}

/** The Docker-specific codes; the network ones are shared (core/slots/connection-failure.ts). */
const ENGINE_CODES: Record<string, string> = {
  ENOENT: 'no such socket',
  ENOTDIR: 'no such socket',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  HPE_INVALID_CONSTANT: 'not a Docker engine',
  HPE_INVALID_HEADER_TOKEN: 'not a Docker engine',
};

/** Why a connection failed, in a few generic words; undefined when `err` is not a connection failure. */
export function connectionFailureKind(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  if (isEngineHttpError(err)) {
    // A token-checking proxy (or a TLS-terminating one) refusing us: the engine is out of reach.
    if (err.statusCode === 401 || err.statusCode === 407) return 'credentials refused';
    // The Docker API never redirects; redirects are refused (see connection.ts).
    if (err.statusCode >= 300 && err.statusCode < 400 && err.statusCode !== 304) return 'not a Docker engine';
    return undefined;
  }
  const e = err as Error & { code?: unknown; level?: unknown; cause?: unknown };
  if (typeof e.code === 'string') {
    const kind = ENGINE_CODES[e.code] ?? networkFailureKind(e.code);
    if (kind) return kind;
  }
  // ssh2 tags its errors with a level.
  if (e.level === 'client-authentication') return 'SSH authentication failed';
  if (e.level === 'client-timeout') return 'timed out';
  if (e.level === 'client-socket') return 'connection failed';
  if (e.level === 'protocol' || e.level === 'handshake') return 'SSH handshake failed';
  if (/socket hang up/i.test(e.message)) return 'connection reset';
  if (/Max redirects exceeded/i.test(e.message)) return 'not a Docker engine';
  if (e.cause !== undefined && e.cause !== err) return connectionFailureKind(e.cause);
  return undefined;
}

/** RunnerUnreachableError that also says, in a few words, why (used as engine:disconnected reason). */
export class DockerUnreachableError extends RunnerUnreachableError {
  readonly kind: string;
  constructor(resource: string, kind: string, cause?: unknown) {
    super(`docker engine of resource "${resource}" is unreachable: ${kind}`, { cause });
    this.kind = kind;
  }
}

export function unreachable(resource: string, kind: string, cause?: unknown): DockerUnreachableError {
  return new DockerUnreachableError(resource, kind, cause);
}

/** RunnerUnreachableError for connection failures; anything else unchanged. */
export function translate(resource: string, err: unknown): unknown {
  if (err instanceof RunnerUnreachableError) return err;
  const kind = connectionFailureKind(err);
  return kind ? unreachable(resource, kind, err) : err;
}

export function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error && (err.name === 'AbortError' || (err as { code?: unknown }).code === 'ABORT_ERR')
  );
}

export function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
