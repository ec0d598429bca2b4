/**
 * Turns a stored resource (URL + decrypted credentials) into dockerode options:
 *
 *   unix:///var/run/docker.sock          local socket
 *   tcp://host:2376 (or https://)        TCP, TLS with client certs when `tls` is given
 *   tcp://host:2375 + token              plain TCP; the token goes out as `Authorization: Bearer`
 *                                        for token-checking proxies in front of the engine
 *   ssh://user@host:22                   a VM's engine over SSH (`docker system dial-stdio` on
 *                                        the far side), with a private key or a password
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';
import type { ResourceConnection } from '../../core/slots/runner.ts';

export type Endpoint =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; tls: boolean }
  | { kind: 'ssh'; host: string; port: number; username: string };

/** Thrown for a resource URL or credential set this runner cannot use; the message names the problem. */
export class InvalidConnectionError extends Error {
  override name = 'InvalidConnectionError';
}

const SCHEMES_BY_TYPE: Record<string, readonly string[]> = {
  docker: ['unix:', 'tcp:', 'http:', 'https:', 'ssh:'],
  // A VM is reached over SSH; a VM whose engine listens on TCP is a plain `docker` resource.
  vm: ['ssh:'],
};

export function parseEndpoint(conn: ResourceConnection): Endpoint {
  let url: URL;
  try {
    url = new URL(conn.url);
  } catch {
    throw new InvalidConnectionError('resource URL is not a valid URL');
  }
  const allowed = SCHEMES_BY_TYPE[conn.type] ?? SCHEMES_BY_TYPE.docker!;
  if (!allowed.includes(url.protocol)) {
    throw new InvalidConnectionError(
      `a ${conn.type} resource URL must start with ${allowed.map((s) => `${s}//`).join(', ')}`,
    );
  }
  if (url.search || url.hash)
    throw new InvalidConnectionError('resource URL must not have a query or fragment');

  if (url.protocol === 'unix:') {
    if (url.host) throw new InvalidConnectionError('write a socket URL as unix:///absolute/path');
    const socketPath = decodeURIComponent(url.pathname);
    if (!socketPath.startsWith('/') || socketPath.length < 2) {
      throw new InvalidConnectionError('unix socket URL needs an absolute path');
    }
    return { kind: 'unix', socketPath };
  }

  // Credentials belong in the credential fields (encrypted at rest), never in a URL that gets logged.
  if (url.password)
    throw new InvalidConnectionError('put credentials in the credential fields, not in the URL');
  if (!url.hostname) throw new InvalidConnectionError('resource URL has no host');
  // docker-modem resolves API paths against the host root, so a path prefix would be silently dropped.
  if (url.pathname && url.pathname !== '/') {
    throw new InvalidConnectionError('resource URL must not have a path');
  }

  // WHATWG URLs hide a port that equals the scheme's default (https://h:443 → port ''), and keep
  // IPv6 brackets in hostname; read the port from the text and strip the brackets.
  const explicitPort = /^[a-z]+:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/]*):(\d+)/i.exec(conn.url)?.[1];
  const host = url.hostname.replace(/^\[|\]$/g, '');

  if (url.protocol === 'ssh:') {
    const username = decodeURIComponent(url.username) || conn.ssh?.username;
    if (!username) throw new InvalidConnectionError('an ssh:// resource needs a user (ssh://user@host)');
    const port = explicitPort ? Number(explicitPort) : (conn.ssh?.port ?? 22);
    return { kind: 'ssh', host, port, username };
  }

  if (url.username)
    throw new InvalidConnectionError('put credentials in the credential fields, not in the URL');
  const tls = url.protocol === 'https:' || hasTls(conn);
  const port = explicitPort ? Number(explicitPort) : tls ? 2376 : 2375;
  return { kind: 'tcp', host, port, tls };
}

function hasTls(conn: ResourceConnection): boolean {
  const t = conn.tls;
  return !!t && !!(t.ca || t.cert || t.key || t.skipVerify);
}

/** The extra modem options dockerode's types omit. */
export type DockerConnectionOptions = Dockerode.DockerOptions & {
  agent?: HttpsAgent;
  pathPrefix?: string;
  connectionTimeout?: number;
  password?: string;
};

/**
 * dockerode options for `conn`. Every modem key is set explicitly (undefined where unused):
 * docker-modem merges our options over defaults it derives from DOCKER_HOST / DOCKER_CERT_PATH,
 * and a stray env default (say a tcp host) must never redirect a unix-socket resource.
 */
export function dockerOptionsFor(
  conn: ResourceConnection,
  opts: { timeoutMs: number },
): DockerConnectionOptions {
  hardenModemRedirects();
  const ep = parseEndpoint(conn);
  const base: DockerConnectionOptions = {
    socketPath: undefined,
    host: undefined,
    port: undefined,
    protocol: undefined,
    username: undefined,
    password: undefined,
    ca: undefined,
    cert: undefined,
    key: undefined,
    timeout: undefined,
    version: undefined,
    pathPrefix: '/',
    headers: {},
    sshOptions: {},
  };
  if (ep.kind === 'unix') return { ...base, socketPath: ep.socketPath };

  if (ep.kind === 'tcp') {
    const out: DockerConnectionOptions = {
      ...base,
      host: ep.host,
      port: ep.port,
      protocol: ep.tls ? 'https' : 'http',
    };
    if (conn.token) out.headers = { Authorization: `Bearer ${conn.token}` };
    if (ep.tls) {
      const t = conn.tls ?? {};
      out.ca = t.ca;
      out.cert = t.cert;
      out.key = t.key;
      if ((t.cert && !t.key) || (t.key && !t.cert)) {
        throw new InvalidConnectionError('a TLS client certificate needs both cert and key');
      }
      // The catalog connects to the address it checked (an IP) and passes the name the certificate
      // was issued for as `servername`; only an agent carries that to the TLS handshake.
      const servername = typeof conn.options?.servername === 'string' ? conn.options.servername : undefined;
      if (t.skipVerify || servername) {
        out.agent = new HttpsAgent({
          ca: t.ca,
          cert: t.cert,
          key: t.key,
          // Only an admin can set skipVerify: still encrypted, but the engine is not authenticated.
          rejectUnauthorized: !t.skipVerify,
          ...(servername ? { servername } : {}),
        });
      }
    }
    return out;
  }

  const ssh = conn.ssh;
  const password = ssh?.password ?? (ssh?.privateKey ? undefined : conn.token);
  if (!ssh?.privateKey && !password) {
    throw new InvalidConnectionError('an ssh:// resource needs a private key or a password');
  }
  const hostKey = typeof conn.options?.ssh_host_key === 'string' ? conn.options.ssh_host_key : undefined;
  return {
    ...base,
    protocol: 'ssh',
    host: ep.host,
    port: ep.port,
    username: ep.username,
    // docker-modem copies its top-level `password` over sshOptions.password, so set it here.
    password,
    sshOptions: {
      privateKey: ssh?.privateKey,
      password,
      // Never fall back to the IARNet process's own agent or keys.
      agent: undefined,
      readyTimeout: opts.timeoutMs,
      keepaliveInterval: 15_000,
      ...(hostKey ? { hostVerifier: hostKeyVerifier(hostKey) } : {}),
    },
  };
}

/**
 * Accepts the host key whose OpenSSH fingerprint (`SHA256:base64`, as `ssh-keygen -lf` prints it)
 * equals `expected`. Without a pinned key ssh2 accepts any host key (the factory logs a warning).
 */
export function hostKeyVerifier(expected: string): (key: Buffer) => boolean {
  const want = Buffer.from(
    expected
      .trim()
      .replace(/^SHA256:/, '')
      .replace(/=+$/, ''),
  );
  return (key: Buffer) => {
    const got = Buffer.from(createHash('sha256').update(key).digest('base64').replace(/=+$/, ''));
    return got.length === want.length && timingSafeEqual(got, want);
  };
}

/** Where the resource points, without credentials: for logs and descriptions. */
export function describeEndpoint(ep: Endpoint): string {
  switch (ep.kind) {
    case 'unix':
      return `unix://${ep.socketPath}`;
    case 'tcp':
      return `${ep.tls ? 'https' : 'tcp'}://${ep.host}:${ep.port}`;
    case 'ssh':
      return `ssh://${ep.username}@${ep.host}:${ep.port}`;
  }
}

let hardened = false;
/**
 * docker-modem's HTTP layer follows up to 5 redirects with a bare GET to wherever `Location`
 * points. The Docker API never redirects, so a redirect means a hostile or misconfigured
 * endpoint steering us at another host (SSRF). Its limit is a module-level setting; 0 makes
 * the first redirect an error and no second request is sent.
 */
function hardenModemRedirects(): void {
  if (hardened) return;
  hardened = true;
  try {
    const require = createRequire(import.meta.url);
    const http = require('docker-modem/lib/http.js') as { maxRedirects?: number };
    http.maxRedirects = 0;
  } catch {
    // A docker-modem without that module has no redirect following to disable.
  }
}
