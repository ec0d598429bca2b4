/**
 * Resource URL + credentials → dockerode options, and how the runner behaves toward endpoints
 * that are not well-behaved engines (fake HTTP servers on loopback / a temp unix socket).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RunnerUnreachableError } from '../../core/slots/runner.ts';
import {
  dockerOptionsFor,
  hostKeyVerifier,
  InvalidConnectionError,
  parseEndpoint,
} from '../../plugins/runner-docker/connection.ts';
import { DockerRunner } from '../../plugins/runner-docker/docker-runner.ts';
import { connectionFailureKind } from '../../plugins/runner-docker/errors.ts';

const conn = (url: string, extra: Record<string, unknown> = {}) => ({
  id: 'r1',
  type: 'docker',
  url,
  ...extra,
});

describe('parseEndpoint', () => {
  it('reads unix sockets, tcp, https and ssh URLs with their default ports', () => {
    expect(parseEndpoint(conn('unix:///var/run/docker.sock'))).toEqual({
      kind: 'unix',
      socketPath: '/var/run/docker.sock',
    });
    expect(parseEndpoint(conn('tcp://10.0.0.5'))).toEqual({
      kind: 'tcp',
      host: '10.0.0.5',
      port: 2375,
      tls: false,
    });
    expect(parseEndpoint(conn('tcp://h:2376', { tls: { ca: 'x' } }))).toEqual({
      kind: 'tcp',
      host: 'h',
      port: 2376,
      tls: true,
    });
    expect(parseEndpoint(conn('https://h'))).toEqual({ kind: 'tcp', host: 'h', port: 2376, tls: true });
    expect(parseEndpoint({ ...conn('ssh://ops@vm1'), type: 'vm' })).toEqual({
      kind: 'ssh',
      host: 'vm1',
      port: 22,
      username: 'ops',
    });
    expect(
      parseEndpoint({ ...conn('ssh://vm1'), type: 'vm', ssh: { username: 'u', port: 2222, password: 'p' } }),
    ).toEqual({ kind: 'ssh', host: 'vm1', port: 2222, username: 'u' });
  });

  it('refuses what it cannot use safely, naming the problem', () => {
    const bad: [string, string, RegExp][] = [
      ['docker', 'not a url', /not a valid URL/],
      ['docker', 'ftp://h', /must start with/],
      ['vm', 'tcp://h:2375', /must start with ssh:\/\//],
      ['docker', 'tcp://user:secret@h', /credential fields/],
      ['docker', 'tcp://h/prefix', /must not have a path/],
      ['docker', 'tcp://h?x=1', /query/],
      ['docker', 'unix://relative/sock', /unix:\/\/\/absolute/],
      ['vm', 'ssh://host', /needs a user/],
    ];
    for (const [type, url, msg] of bad) {
      expect(() => parseEndpoint({ id: 'r', type, url }), url).toThrow(msg);
    }
    expect(() => parseEndpoint(conn('tcp://u:p@h'))).toThrow(InvalidConnectionError);
  });
});

describe('dockerOptionsFor', () => {
  it('sets every modem key, so env defaults (DOCKER_HOST) cannot leak into a resource', () => {
    const o = dockerOptionsFor(conn('unix:///run/x.sock'), { timeoutMs: 1000 });
    expect(o.socketPath).toBe('/run/x.sock');
    for (const key of ['host', 'port', 'protocol', 'ca', 'cert', 'key', 'username']) {
      expect(key in o, key).toBe(true);
      expect(o[key as keyof typeof o], key).toBeUndefined();
    }
  });

  it('sends the token as a bearer header on tcp', () => {
    const o = dockerOptionsFor(conn('tcp://h:2375', { token: 't0k' }), { timeoutMs: 1000 });
    expect(o).toMatchObject({
      host: 'h',
      port: 2375,
      protocol: 'http',
      headers: { Authorization: 'Bearer t0k' },
    });
  });

  it('uses https with the client certificate when TLS material is given', () => {
    const o = dockerOptionsFor(conn('tcp://h:2376', { tls: { ca: 'CA', cert: 'C', key: 'K' } }), {
      timeoutMs: 1000,
    });
    expect(o).toMatchObject({ protocol: 'https', ca: 'CA', cert: 'C', key: 'K' });
    expect(o.agent).toBeUndefined();
    const skip = dockerOptionsFor(conn('tcp://h:2376', { tls: { skipVerify: true } }), { timeoutMs: 1000 });
    expect(skip.agent?.options.rejectUnauthorized).toBe(false);
    expect(() => dockerOptionsFor(conn('tcp://h', { tls: { cert: 'C' } }), { timeoutMs: 1 })).toThrow(
      /both cert and key/,
    );
  });

  it('uses ssh with a key or a password, never the process agent', () => {
    const key = dockerOptionsFor(
      { ...conn('ssh://ops@vm:2200'), type: 'vm', ssh: { username: 'ops', privateKey: 'PEM' } },
      { timeoutMs: 5000 },
    );
    expect(key).toMatchObject({ protocol: 'ssh', host: 'vm', port: 2200, username: 'ops' });
    expect(key.sshOptions).toMatchObject({ privateKey: 'PEM', readyTimeout: 5000 });
    expect(key.sshOptions?.agent).toBeUndefined();
    const pw = dockerOptionsFor({ ...conn('ssh://ops@vm'), type: 'vm', token: 'pw' }, { timeoutMs: 5000 });
    expect(pw.sshOptions?.password).toBe('pw');
    expect(() => dockerOptionsFor({ ...conn('ssh://ops@vm'), type: 'vm' }, { timeoutMs: 1 })).toThrow(
      /private key or a password/,
    );
  });

  it('pins the SSH host key by its OpenSSH SHA256 fingerprint', () => {
    const hostKey = Buffer.from('ssh-ed25519 wire-format key bytes');
    const fp = `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`;
    expect(hostKeyVerifier(fp)(hostKey)).toBe(true);
    expect(hostKeyVerifier(fp)(Buffer.from('another key'))).toBe(false);
    const o = dockerOptionsFor(
      { ...conn('ssh://ops@vm'), type: 'vm', token: 'pw', options: { ssh_host_key: fp } },
      { timeoutMs: 1 },
    );
    expect(typeof o.sshOptions?.hostVerifier).toBe('function');
  });
});

describe('connectionFailureKind', () => {
  it('classifies socket, TLS, SSH and proxy failures in generic words', () => {
    const e = (code: string) => Object.assign(new Error(`x ${code} 10.1.2.3`), { code });
    expect(connectionFailureKind(e('ECONNREFUSED'))).toBe('connection refused');
    expect(connectionFailureKind(e('ENOENT'))).toBe('no such socket');
    expect(connectionFailureKind(e('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe('TLS certificate rejected');
    expect(connectionFailureKind(e('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'))).toBe(
      'TLS handshake failed',
    );
    expect(
      connectionFailureKind(
        Object.assign(new Error('All configured authentication methods failed'), {
          level: 'client-authentication',
        }),
      ),
    ).toBe('SSH authentication failed');
    expect(
      connectionFailureKind(Object.assign(new Error('(HTTP code 401) unexpected'), { statusCode: 401 })),
    ).toBe('credentials refused');
    expect(
      connectionFailureKind(
        Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404 }),
      ),
    ).toBeUndefined();
    expect(connectionFailureKind(new Error('something else'))).toBeUndefined();
  });
});

// ---------------------------------------------------------------- fake endpoints

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  where: { socketPath?: string } = {},
): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  return new Promise((resolve) => {
    const done = () => {
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
      cleanups.push(() => {
        server.closeAllConnections();
      });
      resolve({ server, port: where.socketPath ? 0 : (server.address() as AddressInfo).port });
    };
    if (where.socketPath) server.listen(where.socketPath, done);
    else server.listen(0, '127.0.0.1', done);
  });
}

const INFO = {
  NCPU: 3,
  MemTotal: 1234,
  ServerVersion: '99.0',
  OperatingSystem: 'FakeOS',
  SystemTime: new Date().toISOString(),
};

describe('against fake endpoints', () => {
  it('talks to the unix socket it was given even when DOCKER_HOST names another engine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-rd-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socketPath = join(dir, 'engine.sock');
    await listen((_req, res) => res.end(JSON.stringify(INFO)), { socketPath });
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:9';
    try {
      const r = new DockerRunner(conn(`unix://${socketPath}`));
      await expect(r.capacity()).resolves.toMatchObject({
        cpu: 3,
        memory: 1234,
        description: 'Docker 99.0 on FakeOS',
      });
      await r.close();
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it('sends the bearer token to a token-checking proxy; a refused token is "unreachable"', async () => {
    const seen: (string | undefined)[] = [];
    const { port } = await listen((req, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization !== 'Bearer good') {
        res.statusCode = 401;
        res.end('{"message":"bad token for 10.9.8.7"}');
        return;
      }
      res.end(JSON.stringify(INFO));
    });
    const ok = new DockerRunner(conn(`tcp://127.0.0.1:${port}`, { token: 'good' }));
    await expect(ok.capacity()).resolves.toMatchObject({ cpu: 3 });
    const bad = new DockerRunner(conn(`tcp://127.0.0.1:${port}`, { token: 'bad' }));
    const err = await bad.capacity().catch((e) => e);
    expect(err).toBeInstanceOf(RunnerUnreachableError);
    expect(err.message).toBe('docker engine of resource "r1" is unreachable: credentials refused');
    expect(seen).toEqual(['Bearer good', 'Bearer bad']);
  });

  it('refuses redirects: no request reaches the place a hostile endpoint points at', async () => {
    let hits = 0;
    const target = await listen((_req, res) => {
      hits++;
      res.end(JSON.stringify(INFO));
    });
    const { port } = await listen((_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', `http://127.0.0.1:${target.port}/info`);
      res.end();
    });
    const r = new DockerRunner(conn(`tcp://127.0.0.1:${port}`, { token: 'secret' }));
    const err = await r.capacity().catch((e) => e);
    expect(err).toBeInstanceOf(RunnerUnreachableError);
    expect(err.message).toMatch(/not a Docker engine/);
    await new Promise((res) => setTimeout(res, 200));
    expect(hits).toBe(0);
  });

  it('gives up on an endpoint that accepts but never answers, within the request timeout', async () => {
    const server: TcpServer = createTcpServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const sockets = new Set<import('node:net').Socket>();
    server.on('connection', (s) => sockets.add(s));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
    );
    const port = (server.address() as AddressInfo).port;
    const r = new DockerRunner(conn(`tcp://127.0.0.1:${port}`), { config: { request_timeout_ms: 500 } });
    const t = Date.now();
    const err = await r.list({ labels: {} }).catch((e) => e);
    expect(Date.now() - t).toBeLessThan(2000);
    expect(err).toBeInstanceOf(RunnerUnreachableError);
    expect(err.message).toMatch(/no answer within 0\.5 s/);
    await r.close();
  });

  it('does not leak the address or engine text in unreachable errors', async () => {
    const r = new DockerRunner(conn('tcp://127.0.0.1:9'));
    const err = await r.capacity().catch((e) => e);
    expect(err).toBeInstanceOf(RunnerUnreachableError);
    expect(err.message).not.toMatch(/127\.0\.0\.1|:9\b/);
  });

  it('rejects ids that would change the API path, without calling the engine', async () => {
    let calls = 0;
    const { port } = await listen((_req, res) => {
      calls++;
      res.end('{}');
    });
    const r = new DockerRunner(conn(`tcp://127.0.0.1:${port}`));
    await expect(r.inspect('../../images/x')).resolves.toBeUndefined();
    await expect(r.remove('a/b')).resolves.toBeUndefined();
    await expect(r.stop('x?y=1')).rejects.toMatchObject({ status: 404 });
    expect(calls).toBe(0);
  });
});

describe('parseEndpoint: ports and IPv6', () => {
  const conn = (url: string, type = 'docker') => ({ id: 'r', type, url });
  it('keeps an explicit default port and strips IPv6 brackets', () => {
    expect(parseEndpoint(conn('https://engine.example:443'))).toEqual({
      kind: 'tcp',
      host: 'engine.example',
      port: 443,
      tls: true,
    });
    expect(parseEndpoint(conn('tcp://[::1]:2375'))).toEqual({
      kind: 'tcp',
      host: '::1',
      port: 2375,
      tls: false,
    });
    expect(parseEndpoint(conn('https://engine.example'))).toMatchObject({ port: 2376 });
    expect(parseEndpoint(conn('ssh://root@[::1]', 'vm'))).toMatchObject({ host: '::1', port: 22 });
  });

  it('passes the checked name to TLS as servername through an agent', () => {
    const opts = dockerOptionsFor(
      {
        id: 'r',
        type: 'docker',
        url: 'https://203.0.113.7:2376',
        tls: { ca: 'CA' },
        options: { servername: 'engine.example' },
      },
      { timeoutMs: 1000 },
    );
    expect(opts.agent?.options).toMatchObject({
      servername: 'engine.example',
      rejectUnauthorized: true,
      ca: 'CA',
    });
  });
});
