/**
 * Mutual TLS between real IARNet processes (grpc.tls with ca_file, no cluster secret): three
 * nodes with certificates from the cluster's CA form a cluster; a fourth whose certificate comes
 * from another CA (while trusting the cluster's CA, so only its own identity is wrong) is refused
 * at the handshake and changes nothing. Certificates are made with openssl at test time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPeerWire } from '../../plugins/discovery/wire.ts';
import { DiscoveryNode, hasLoopbackAliases, sleep, within } from './discovery-node.ts';

const INTERVAL = 200;
const loopbackAliases = await hasLoopbackAliases();
const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (process.env.CI === 'true' && !(loopbackAliases && hasOpenssl)) {
  throw new Error('CI needs loopback aliases (127.0.0.x) and openssl');
}

const dir = mkdtempSync(join(tmpdir(), 'iarnet-mtls-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function makeCa(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  );
}

/** A node certificate for `ip` (server and client use) signed by `ca`. */
function makeCert(name: string, ip: string, ca: string): { cert: string; key: string } {
  writeFileSync(
    join(dir, `${name}.ext`),
    `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`,
  );
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  );
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

const tlsYaml = (f: { cert: string; key: string }, ca: string) =>
  [
    'grpc:',
    '  tls:',
    '    enabled: true',
    `    cert_file: ${JSON.stringify(f.cert)}`,
    `    key_file: ${JSON.stringify(f.key)}`,
    `    ca_file: ${JSON.stringify(join(dir, `${ca}.crt`))}`,
  ].join('\n');

describe.skipIf(!loopbackAliases || !hasOpenssl)('discovery: mutual TLS between real processes', () => {
  const nodes: DiscoveryNode[] = [];
  const make = (id: string, ip: string, seeds: string[], certCa: string) => {
    const files = makeCert(id, ip, certCa);
    const n = new DiscoveryNode({
      id,
      ip,
      seeds,
      discovery: {
        gossip_interval_ms: INTERVAL,
        suspect_after_ms: 1000,
        dead_after_ms: 2500,
        rpc_timeout_ms: 1000,
      },
      // Every node trusts the cluster CA; only the certificate it presents differs.
      extraYaml: tlsYaml(files, 'cluster-ca'),
    });
    nodes.push(n);
    return n;
  };
  let a: DiscoveryNode;

  beforeAll(async () => {
    makeCa('cluster-ca');
    makeCa('other-ca');
    a = make('tls-a', '127.0.0.51', [], 'cluster-ca');
    await a.start();
    const b = make('tls-b', '127.0.0.52', [a.peerAddr], 'cluster-ca');
    const c = make('tls-c', '127.0.0.53', [a.peerAddr], 'cluster-ca');
    await Promise.all([b.start(), c.start()]);
  }, 120_000);

  afterAll(() => {
    for (const n of nodes) n.kill();
  });

  it('nodes with certificates from the cluster CA form a cluster', async () => {
    await within(15_000, 'three nodes alive everywhere', async () => {
      for (const n of nodes) {
        const view = await n.nodes();
        if (['tls-a', 'tls-b', 'tls-c'].some((id) => view[id]?.status !== 'alive')) return false;
      }
      return true;
    });
  });

  it('a node whose certificate comes from another CA is refused and changes nothing', async () => {
    const before = JSON.stringify((await a.nodeList()).map((v) => [v.id, v.status, v.incarnation]));
    const intruder = make('tls-intruder', '127.0.0.54', [a.peerAddr], 'other-ca');
    await intruder.start();
    await sleep(15 * INTERVAL);
    for (const n of nodes.slice(0, 3)) expect((await n.nodes())['tls-intruder']).toBeUndefined();
    expect((await intruder.nodeList()).map((v) => v.id)).toEqual(['tls-intruder']);
    const after = JSON.stringify((await a.nodeList()).map((v) => [v.id, v.status, v.incarnation]));
    expect(after).toBe(before);
  });

  it('the handshake itself refuses a foreign certificate and a client without one', async () => {
    const wire = loadPeerWire();
    const call = (creds: grpc.ChannelCredentials) =>
      new Promise<grpc.ServiceError | null>((resolve) => {
        const client = new wire.Client(a.peerAddr, creds) as unknown as grpc.Client & {
          ExchangePeers(req: object, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void): void;
        };
        client.ExchangePeers({ known_peers: [] }, { deadline: Date.now() + 3000 }, (e) => {
          client.close();
          resolve(e);
        });
      });
    const ca = readFileSync(join(dir, 'cluster-ca.crt'));
    // A certificate from the other CA.
    const foreign = await call(
      grpc.credentials.createSsl(
        ca,
        readFileSync(join(dir, 'tls-intruder.key')),
        readFileSync(join(dir, 'tls-intruder.crt')),
      ),
    );
    expect(foreign?.code).toBe(grpc.status.UNAVAILABLE);
    // No client certificate at all.
    const anonymous = await call(grpc.credentials.createSsl(ca));
    expect(anonymous?.code).toBe(grpc.status.UNAVAILABLE);
    // Plain text.
    const plain = await call(grpc.credentials.createInsecure());
    expect(plain?.code).toBe(grpc.status.UNAVAILABLE);
    // A good certificate gets the document's answer (the peer list).
    const good = await new Promise<{ err: grpc.ServiceError | null; peers?: string[] }>((resolve) => {
      const creds = grpc.credentials.createSsl(
        ca,
        readFileSync(join(dir, 'tls-b.key')),
        readFileSync(join(dir, 'tls-b.crt')),
      );
      const client = new wire.Client(a.peerAddr, creds) as unknown as grpc.Client & {
        ExchangePeers(
          req: object,
          opts: grpc.CallOptions,
          cb: (e: grpc.ServiceError | null, r?: { known_peers: string[] }) => void,
        ): void;
      };
      client.ExchangePeers({ known_peers: [] }, { deadline: Date.now() + 3000 }, (err, r) => {
        client.close();
        resolve({ err, ...(r ? { peers: r.known_peers } : {}) });
      });
    });
    expect(good.err).toBeNull();
    expect(good.peers).toContain(a.peerAddr);
  });
});
