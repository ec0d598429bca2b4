import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../core/kernel/errors.ts';
import { RunnerUnreachableError } from '../../core/slots/runner.ts';
import {
  connectionFailureKind,
  isQuotaRefusal,
  KubernetesApiError,
  KubernetesTimeoutError,
  type KubernetesUnreachableError,
  translate,
} from './errors.ts';

const api = (code: number, message: string, reason = 'Forbidden') =>
  new ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ kind: 'Status', code, reason, message }), {});
const sys = (code: string) => Object.assign(new Error(`connect ${code} 10.0.0.1:6443`), { code });

describe('error mapping', () => {
  it('connection failures become RunnerUnreachableError with a generic kind, never the address', () => {
    for (const [err, kind] of [
      [sys('ECONNREFUSED'), 'connection refused'],
      [
        Object.assign(new Error('request failed'), { type: 'system', cause: sys('ECONNRESET') }),
        'connection reset',
      ],
      [
        Object.assign(new Error('fetch failed'), { name: 'FetchError', type: 'system', code: 'ENOTFOUND' }),
        'name not resolved',
      ],
      [sys('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'TLS certificate rejected'],
      [sys('ERR_TLS_CERT_ALTNAME_INVALID'), 'TLS certificate rejected'],
      [new KubernetesTimeoutError('list nodes: no answer'), 'timed out'],
      [api(401, 'Unauthorized', 'Unauthorized'), 'credentials refused'],
    ] as const) {
      expect(connectionFailureKind(err)).toBe(kind);
      const out = translate('res_1', 'list nodes', 'ns', err);
      expect(out).toBeInstanceOf(RunnerUnreachableError);
      expect((out as KubernetesUnreachableError).kind).toBe(kind);
      expect((out as Error).message).not.toContain('10.0.0.1');
    }
  });

  it('a ResourceQuota refusal becomes 503 with the API server details', () => {
    const refusal = api(
      403,
      'pods "iarnet-a1" is forbidden: exceeded quota: guard, requested: requests.cpu=2, used: requests.cpu=0, limited: requests.cpu=1',
    );
    expect(isQuotaRefusal(refusal)).toBe(true);
    const out = translate('res_1', 'create the pod', 'team-a', refusal) as ApiError;
    expect(out).toBeInstanceOf(ApiError);
    expect(out.status).toBe(503);
    expect(out.code).toBe('CLUSTER_QUOTA_EXCEEDED');
    expect(out.details).toBe(
      'The ResourceQuota of namespace "team-a" refused the pod: pods "iarnet-a1" is forbidden: exceeded quota: guard, requested: requests.cpu=2, used: requests.cpu=0, limited: requests.cpu=1',
    );
  });

  it('other refusals keep their status and message; RBAC 403 is not a quota refusal', () => {
    const rbac = api(
      403,
      'pods is forbidden: User "x" cannot create resource "pods" in API group "" in the namespace "ns"',
    );
    expect(isQuotaRefusal(rbac)).toBe(false);
    const out = translate('res_1', 'create the pod', 'ns', rbac) as KubernetesApiError;
    expect(out).toBeInstanceOf(KubernetesApiError);
    expect(out.statusCode).toBe(403);
    expect(out.message).toContain('create the pod: pods is forbidden');
    const conflict = translate(
      'r',
      'create the pod',
      'ns',
      api(409, 'pods "a" already exists', 'AlreadyExists'),
    ) as KubernetesApiError;
    expect(conflict.statusCode).toBe(409);
    expect(conflict.reason).toBe('AlreadyExists');
  });

  it('leaves unrelated errors alone', () => {
    const e = new RangeError('x');
    expect(translate('r', 'w', 'ns', e)).toBe(e);
    expect(connectionFailureKind(e)).toBeUndefined();
  });
});

describe('transient answers', () => {
  it('retries 429/5xx and "not yet ready" admission, not refusals', async () => {
    const { isTransient } = await import('./kubernetes-runner.ts');
    const k = (code: number, message: string) => new KubernetesApiError('create the pod', api(code, message));
    expect(isTransient(k(429, 'too many requests'))).toBe(true);
    expect(isTransient(k(500, 'Internal error occurred: resource quota evaluation timed out'))).toBe(true);
    expect(isTransient(k(503, 'unavailable'))).toBe(true);
    expect(isTransient(k(403, 'pods "x" is forbidden: not yet ready to handle request'))).toBe(true);
    expect(
      isTransient(
        k(
          403,
          'pods "p" is forbidden: error looking up service account ns/default: serviceaccount "default" not found',
        ),
      ),
    ).toBe(true);
    expect(isTransient(k(403, 'pods is forbidden: User "u" cannot create resource "pods"'))).toBe(false);
    expect(isTransient(k(422, 'Pod "X" is invalid'))).toBe(false);
    expect(isTransient(translate('r', 'create', 'ns', api(403, 'exceeded quota: q')))).toBe(false);
  });
});
