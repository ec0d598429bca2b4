/**
 * The PeerService gRPC server: binds peer_listen_addr, caps message sizes, and maps refusals to
 * gRPC status codes (a refused message changes nothing).
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { ExchangeRequest__Output } from '../../proto/generated/ExchangeRequest.ts';
import type { PlaceRunRequest__Output } from '../../proto/generated/PlaceRunRequest.ts';
import type { PlaceRunResponse } from '../../proto/generated/PlaceRunResponse.ts';
import type { TlsFiles } from './client.ts';
import { type Gossiper, GossipRefused } from './gossiper.ts';
import type { PeerWire } from './wire.ts';

export function serverCredentials(tls: TlsFiles | undefined): grpc.ServerCredentials {
  if (!tls?.enabled) return grpc.ServerCredentials.createInsecure();
  const ca = tls.ca_file ? readFileSync(tls.ca_file) : null;
  return grpc.ServerCredentials.createSsl(
    ca,
    [{ private_key: readFileSync(tls.key_file!), cert_chain: readFileSync(tls.cert_file!) }],
    // With a CA, peers must present a certificate it signed (mutual TLS).
    Boolean(ca),
  );
}

const CODES: Record<GossipRefused['code'], grpc.status> = {
  unauthenticated: grpc.status.UNAUTHENTICATED,
  invalid: grpc.status.INVALID_ARGUMENT,
  'too-large': grpc.status.RESOURCE_EXHAUSTED,
};

export interface PeerServerOptions {
  wire: PeerWire;
  gossiper: Gossiper;
  credentials: grpc.ServerCredentials;
  maxMessageBytes: number;
  /** Phase 2; absent → UNIMPLEMENTED. */
  placeRun?: (req: PlaceRunRequest__Output) => Promise<PlaceRunResponse>;
  onRefused?: (method: string, peer: string, e: Error) => void;
}

export class PeerServer {
  readonly #server: grpc.Server;
  readonly #o: PeerServerOptions;

  constructor(opts: PeerServerOptions) {
    this.#o = opts;
    this.#server = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxMessageBytes,
      'grpc.max_send_message_length': opts.maxMessageBytes,
    });
    const fail = (method: string, call: grpc.ServerUnaryCall<unknown, unknown>, e: unknown) => {
      if (e instanceof GossipRefused) {
        opts.onRefused?.(method, call.getPeer(), e);
        return { code: CODES[e.code], details: e.message };
      }
      opts.onRefused?.(method, call.getPeer(), e as Error);
      return { code: grpc.status.INTERNAL, details: 'internal error' };
    };
    this.#server.addService(opts.wire.service, {
      ExchangePeers: (
        call: grpc.ServerUnaryCall<ExchangeRequest__Output, unknown>,
        cb: grpc.sendUnaryData<unknown>,
      ) => {
        try {
          cb(null, opts.gossiper.handleExchange(call.request));
        } catch (e) {
          cb(fail('ExchangePeers', call, e));
        }
      },
      PlaceRun: (
        call: grpc.ServerUnaryCall<PlaceRunRequest__Output, unknown>,
        cb: grpc.sendUnaryData<unknown>,
      ) => {
        if (!opts.placeRun) {
          cb({ code: grpc.status.UNIMPLEMENTED, details: 'this node does not take runs from peers' });
          return;
        }
        opts.placeRun(call.request).then(
          (res) => cb(null, res),
          (e) => cb(fail('PlaceRun', call, e)),
        );
      },
    });
  }

  /** Bind; returns the port (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) =>
      this.#server.bindAsync(target, this.#o.credentials, (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
  }

  stop(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
