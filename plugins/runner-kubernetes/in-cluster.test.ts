import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detectInCluster } from './in-cluster.ts';

const dirs: string[] = [];
function saDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'iarnet-sa-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('in-cluster detection (mode: k8s)', () => {
  it('builds the connection from the service env and the ServiceAccount files (token by path)', () => {
    const dir = saDir({ token: 'secret-token', 'ca.crt': CA, namespace: 'iarnet-system\n' });
    const c = detectInCluster(
      { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' },
      dir,
      'default',
    );
    expect(c).toEqual({
      id: 'local-kubernetes',
      type: 'kubernetes',
      url: 'https://10.96.0.1:443',
      tls: { ca: CA },
      options: { namespace: 'iarnet-system', token_file: join(dir, 'token') },
    });
    // The token itself is never copied into the connection (it rotates).
    expect(JSON.stringify(c)).not.toContain('secret-token');
  });

  it('brackets IPv6 hosts and falls back to the configured namespace', () => {
    const dir = saDir({ token: 't' });
    const c = detectInCluster(
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' },
      dir,
      'iarnet',
    );
    expect(c?.url).toBe('https://[fd00::1]:6443');
    expect(c?.options?.namespace).toBe('iarnet');
    expect(c?.tls).toBeUndefined();
  });

  it('finds nothing outside a pod', () => {
    const dir = saDir({ token: 't' });
    expect(detectInCluster({}, dir, 'default')).toBeUndefined();
    expect(
      detectInCluster({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, join(dir, 'absent'), 'default'),
    ).toBeUndefined();
    expect(
      detectInCluster({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: 'x' }, dir, 'default'),
    ).toBeUndefined();
  });
});
