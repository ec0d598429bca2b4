/**
 * Runtime conformance of the HTTPS listener (tls.enabled) against a real `iarnet` process on
 * Node 20, Node 24, Bun and Deno: a self-signed certificate for 127.0.0.1 made with openssl,
 * HTTPS answers with that CA, plain HTTP on the same port gets no answer, the "listening" log line
 * has an https URL; and tls.enabled without files stops start-up with exit code 2 naming the key.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runtimeCommands, unavailable } from '../support/runtimes.ts';
import { type RunningIarnet, spawnIarnet } from '../support/spawn-iarnet.ts';

const ADMIN_PASSWORD = 'conformance-admin-password-1';

/** A self-signed certificate whose subjectAltName is IP:127.0.0.1 (it is its own CA). */
function makeCertificate(): { dir: string; cert: string; key: string } | { error: string } {
  const dir = mkdtempSync(join(tmpdir(), 'iarnet-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const out = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  );
  if (out.error || out.status !== 0) return { error: `openssl failed: ${out.error?.message ?? out.stderr}` };
  return { dir, cert, key };
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Plain HTTP to a TLS port: resolves with the status if a valid HTTP answer came, else the error. */
function plainGet(url: string): Promise<{ status: number } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: 3_000 }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

const certificate = makeCertificate();
const certError = 'error' in certificate ? certificate.error : undefined;

for (const runtime of runtimeCommands()) {
  const missing = runtime.missing ?? certError;
  const run = missing && unavailable(`${runtime.name}: ${missing}`) === 'skip' ? describe.skip : describe;

  run(`TLS listener on ${runtime.name}`, () => {
    let node: RunningIarnet;
    let ca: string;

    beforeAll(async () => {
      if ('error' in certificate) throw new Error(certificate.error);
      ca = readFileSync(certificate.cert, 'utf8');
      node = await spawnIarnet(runtime.argv, {
        env: {
          IARNET_ADMIN_PASSWORD: ADMIN_PASSWORD,
          IARNET_TLS__ENABLED: 'true',
          IARNET_TLS__CERT_FILE: certificate.cert,
          IARNET_TLS__KEY_FILE: certificate.key,
        },
      });
    });
    afterAll(async () => {
      await node?.stop('SIGKILL').catch(() => {});
    });

    it('logs an https URL', () => {
      expect(node.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const line = node.logs.find((l) => l.msg === 'listening');
      expect(line).toMatchObject({ url: node.url });
    });

    it('answers HTTPS with the certificate', async () => {
      const res = await httpsGet(`${node.url}/healthz`, ca);
      expect(res.status).toBe(200);
      const ready = await httpsGet(`${node.url}/readyz`, ca);
      expect(JSON.parse(ready.body)).toMatchObject({ status: 'ready' });
    });

    it('refuses a client that does not trust the certificate', async () => {
      await expect(httpsGet(`${node.url}/healthz`, '')).rejects.toThrow();
    });

    it('gives plain HTTP on the same port no HTTP answer', async () => {
      const res = await plainGet(`${node.url.replace(/^https:/, 'http:')}/healthz`);
      // Node and Bun reset the connection; Deno answers with a TLS alert, which is not HTTP.
      expect(res).toEqual({ error: expect.stringMatching(/^(ECONNRESET|HPE_\w+)$/) });
    });

    it('stops cleanly', async () => {
      expect(await node.stop('SIGTERM')).toBe(0);
    });
  });

  run(`TLS misconfiguration on ${runtime.name}`, () => {
    it('refuses tls.enabled without files: exit code 2 naming the key', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'iarnet-tls-'));
      const [cmd, ...prefix] = runtime.argv;
      const child = spawn(cmd!, [...prefix, '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/root',
          NO_COLOR: '1',
          IARNET_TLS__ENABLED: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      child.stdout!.resume();
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(2);
      expect(stderr).toContain('tls');
      expect(stderr).toMatch(/cert_file|key_file/);
    }, 30_000);
  });
}
