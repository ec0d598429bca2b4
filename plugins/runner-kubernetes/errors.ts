/**
 * Error translation between @kubernetes/client-node and the Runner slot.
 *  - Connection failures (refused, reset, TLS, DNS, timeouts) and 401 become
 *    RunnerUnreachableError with a generic `kind` (no addresses or server text, so a resource
 *    URL cannot be used to probe the network); the raw error stays in `cause` for logs.
 *  - A ResourceQuota refusal (403 "exceeded quota") becomes 503 with the API server's details:
 *    the namespace's quota is the atomic guard shared by every IARNet replica.
 *  - Anything else the API server answers becomes KubernetesApiError (status + its message).
 */
import { ApiError } from '../../core/kernel/errors.ts';
import { networkFailureKind } from '../../core/slots/connection-failure.ts';
import { ImagePullError, RunnerUnreachableError } from '../../core/slots/runner.ts';
import type { PodProblem } from './pod-spec.ts';

/** An HTTP answer from the API server (client-node's ApiException, or Watch's statusCode error). */
export function statusOf(err: unknown): number | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  // ApiException: numeric `code` and a string `body`. Node's system errors have string codes.
  if (typeof e.code === 'number' && 'body' in e) return e.code;
  return undefined;
}

/** The API server's Status message (`{"kind":"Status","message":...}`), when there is one. */
export function apiMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const body = (err as { body?: unknown }).body;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return truncate(body.trim() || err.message, 500);
    }
  }
  if (parsed && typeof parsed === 'object' && typeof (parsed as { message?: unknown }).message === 'string') {
    return truncate((parsed as { message: string }).message, 500);
  }
  return truncate(err.message, 500);
}

/** The API server's Status reason (`AlreadyExists`, `Forbidden`, `Expired`...). */
export function apiReason(err: unknown): string | undefined {
  const body = (err as { body?: unknown })?.body;
  try {
    const parsed = typeof body === 'string' ? JSON.parse(body) : body;
    return typeof parsed?.reason === 'string' ? parsed.reason : undefined;
  } catch {
    return undefined;
  }
}

/** The codes particular to talking HTTP to an API server; the network ones are shared (core/slots/connection-failure.ts). */
const API_CODES: Record<string, string> = {
  HPE_INVALID_CONSTANT: 'not a Kubernetes API server',
  HPE_INVALID_HEADER_TOKEN: 'not a Kubernetes API server',
};

/** Why a connection failed, in a few generic words; undefined when it is not a connection failure. */
export function connectionFailureKind(err: unknown, depth = 0): string | undefined {
  if (!(err instanceof Error) || depth > 4) return undefined;
  const status = statusOf(err);
  if (status !== undefined) {
    // A token the server does not know (or one for another cluster): nothing works with it.
    if (status === 401) return 'credentials refused';
    if (status >= 300 && status < 400) return 'not a Kubernetes API server';
    return undefined;
  }
  const e = err as Error & { code?: unknown; errno?: unknown; cause?: unknown; type?: unknown };
  for (const code of [e.code, e.errno]) {
    if (typeof code !== 'string') continue;
    const kind = API_CODES[code] ?? networkFailureKind(code);
    if (kind) return kind;
  }
  if (e instanceof KubernetesTimeoutError) return 'timed out';
  if (/socket hang up/i.test(e.message)) return 'connection reset';
  if (/self[- ]signed certificate|unable to verify the first certificate|certificate/i.test(e.message)) {
    return 'TLS certificate rejected';
  }
  // node-fetch wraps system errors as FetchError{type:'system'}; fetch itself as TypeError{cause}.
  if (e.cause !== undefined && e.cause !== err) return connectionFailureKind(e.cause, depth + 1);
  if (e.type === 'system' || e.name === 'FetchError') return 'connection failed';
  return undefined;
}

export class KubernetesUnreachableError extends RunnerUnreachableError {
  readonly kind: string;
  constructor(resource: string, kind: string, cause?: unknown) {
    super(`Kubernetes API server of resource "${resource}" is unreachable: ${kind}`, { cause });
    this.kind = kind;
  }
}

/** A call that got no answer within its deadline. */
export class KubernetesTimeoutError extends Error {
  override name = 'KubernetesTimeoutError';
}

/** An answer from the API server that is not a success, passed on with its status and message. */
export class KubernetesApiError extends Error {
  override name = 'KubernetesApiError';
  readonly statusCode: number;
  readonly reason: string | undefined;
  constructor(what: string, cause: unknown) {
    super(`${what}: ${apiMessage(cause)}`, { cause });
    this.statusCode = statusOf(cause) ?? 0;
    this.reason = apiReason(cause);
  }
}

/** Whether the API server refused because a ResourceQuota in the namespace would be exceeded. */
export function isQuotaRefusal(err: unknown): boolean {
  return (
    statusOf(err) === 403 &&
    /exceeded quota|must specify limits|status unknown for quota/i.test(apiMessage(err))
  );
}

/** 503 with the API server's explanation (which quota, requested, used, limited). */
export function quotaRefusal(namespace: string, err: unknown): ApiError {
  return new ApiError(
    503,
    'CLUSTER_QUOTA_EXCEEDED',
    'Resource limit exceeded',
    `The ResourceQuota of namespace "${namespace}" refused the pod: ${apiMessage(err)}`,
    { cause: err },
  );
}

/**
 * The error a failed call should surface as: RunnerUnreachableError for connection failures,
 * 503 for quota refusals, KubernetesApiError for other answers, anything else unchanged.
 */
export function translate(resource: string, what: string, namespace: string, err: unknown): unknown {
  if (err instanceof RunnerUnreachableError || err instanceof ApiError) return err;
  const kind = connectionFailureKind(err);
  if (kind) return new KubernetesUnreachableError(resource, kind, err);
  if (isQuotaRefusal(err)) return quotaRefusal(namespace, err);
  if (statusOf(err) !== undefined) return new KubernetesApiError(what, err);
  return err;
}

export function isAbortError(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'AbortError' ||
      (err as { code?: unknown }).code === 'ABORT_ERR' ||
      (err as { type?: unknown }).type === 'aborted')
  );
}

export function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/**
 * The error a start ends with when the pod (or a Deployment's pod, or its ReplicaSet) will not run:
 * the image cannot be had → ImagePullError (422), no node can take it → 503, the namespace's quota
 * refused it → 503, a container configuration the kubelet rejects → 422.
 */
export function startProblemError(
  problem: PodProblem | { kind: 'quota'; message: string },
  ctx: { image: string; namespace: string; what: string },
): Error {
  switch (problem.kind) {
    case 'image':
      return new ImagePullError(`${ctx.image}: ${problem.message}`);
    case 'unschedulable':
      return new ApiError(
        503,
        'POD_UNSCHEDULABLE',
        'Resource limit exceeded',
        `No node of the cluster can run the pod: ${problem.message}`,
      );
    case 'quota':
      return new ApiError(
        503,
        'CLUSTER_QUOTA_EXCEEDED',
        'Resource limit exceeded',
        `The ResourceQuota of namespace "${ctx.namespace}" refused the pods: ${problem.message}`,
      );
    case 'config':
      return new KubernetesApiError(ctx.what, Object.assign(new Error(problem.message), { statusCode: 422 }));
  }
}
