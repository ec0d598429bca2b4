/**
 * A followed pod log as an async stream of lines. client-node's Log helper turns every
 * connection failure into a generic 500, so this opens the request itself (node:https with the
 * KubeConfig's TLS and auth options) and keeps errors classifiable.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';
import type { LogOptions as K8sLogOptions, KubeConfig } from '@kubernetes/client-node';

/** An HTTP refusal of the log endpoint, shaped like client-node's errors (statusCode + body). */
export class LogHttpError extends Error {
  readonly statusCode: number;
  readonly body: string;
  constructor(statusCode: number, body: string) {
    super(`log request answered ${statusCode}`);
    this.statusCode = statusCode;
    this.body = body;
  }
}

export async function* followLog(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  container: string,
  query: K8sLogOptions,
  signal: AbortSignal | undefined,
  connectTimeoutMs: number,
): AsyncGenerator<string> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no cluster configured');
  const url = new URL(
    `${cluster.server}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`,
  );
  url.searchParams.set('container', container);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  const opts: RequestOptions & { headers: Record<string, string> } = { headers: {} };
  await kc.applyToHTTPSOptions(opts);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  const local = new AbortController();
  const onAbort = () => local.abort();
  signal?.addEventListener('abort', onAbort, { once: true });

  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, { ...opts, method: 'GET', signal: local.signal }, resolve);
    const timer = setTimeout(
      () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      connectTimeoutMs,
    );
    req.once('response', () => clearTimeout(timer));
    req.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
  try {
    if (res.statusCode !== 200) {
      let body = '';
      for await (const chunk of res) body += chunk;
      throw new LogHttpError(res.statusCode ?? 0, body.slice(0, 4096));
    }
    const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of lines) yield line;
    } catch (err) {
      if (!local.signal.aborted) throw err;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    local.abort();
    res.destroy();
  }
}
