/**
 * A KubeConfig for one resource: the API server URL (already pinned by the catalog to the
 * address it checked), bearer token or client certificate, CA bundle; the name the admin gave
 * stays the TLS server name. The in-cluster connection reads its token file on every use
 * (projected ServiceAccount tokens rotate), never a copy taken at start.
 */
import type { Agent } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import type { ResourceConnection } from '../../core/slots/runner.ts';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

export function kubeConfigFor(connection: ResourceConnection): KubeConfig {
  const url = new URL(connection.url);
  const plain = url.protocol === 'http:';
  const servername = connection.options?.servername;
  const tokenFile = connection.options?.token_file;
  const tls = connection.tls ?? {};
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'iarnet',
        server: `${url.protocol}//${url.host}`,
        // client-node only sends plain HTTP with this set; the catalog allows http:// for loopback only.
        skipTLSVerify: plain || tls.skipVerify === true,
        ...(tls.ca ? { caData: b64(tls.ca) } : {}),
        ...(typeof servername === 'string' && !plain ? { tlsServerName: servername } : {}),
      },
    ],
    users: [
      {
        name: 'iarnet',
        ...(typeof tokenFile === 'string'
          ? { authProvider: { name: 'tokenFile', config: { tokenFile } } }
          : connection.token
            ? { token: connection.token }
            : {}),
        ...(tls.cert && tls.key ? { certData: b64(tls.cert), keyData: b64(tls.key) } : {}),
      },
    ],
    contexts: [{ name: 'iarnet', cluster: 'iarnet', user: 'iarnet' }],
    currentContext: 'iarnet',
  });
  return kc;
}

type AgentFactory = (cluster: unknown, options: Record<string, unknown>) => Agent;

/**
 * Reuse connections. client-node 1.4 builds a new agent — so a new TCP connection and TLS
 * handshake — for every request (~4–5 ms each on a loaded test machine, more than the rest of
 * a pod read). The agent options it derives are the same for every request of one KubeConfig,
 * so one keep-alive agent serves them all (long watches and log streams take their own sockets
 * from it). This replaces a private method (`createAgent`), so @kubernetes/client-node is kept
 * on ~1.4; if the method is absent the client works as before, just without reuse.
 * Returns a function that closes the pooled connections.
 */
export function poolConnections(kc: KubeConfig): () => void {
  const target = kc as unknown as { createAgent?: AgentFactory };
  const original = target.createAgent;
  if (typeof original !== 'function') return () => undefined;
  let agent: Agent | undefined;
  target.createAgent = (cluster, options) => {
    agent ??= original.call(kc, cluster, { ...options, keepAlive: true, maxFreeSockets: 4 });
    return agent;
  };
  return () => agent?.destroy();
}
