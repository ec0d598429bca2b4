/**
 * The PeerService gRPC server: binds peer_listen_addr, caps message sizes, and maps refusals to
 * gRPC status codes (a refused message changes nothing).
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { ExchangeRequest__Output } from '../../proto/generated/ExchangeRequest.ts';
import type { PlaceRunRequest__Output } from '../../proto/generated/PlaceRunRequest.ts';
import type { PlaceRunResponse } from '../../proto/generated/PlaceRunResponse.ts';
import type { RunLogLine } from '../../proto/generated/RunLogLine.ts';
import type { RunLogsRequest__Output } from '../../proto/generated/RunLogsRequest.ts';
import type { RunStatsRequest__Output } from '../../proto/generated/RunStatsRequest.ts';
import type { RunStatsResponse } from '../../proto/generated/RunStatsResponse.ts';
import type { StopRunRequest__Output } from '../../proto/generated/StopRunRequest.ts';
import type { StopRunResponse } from '../../proto/generated/StopRunResponse.ts';
import type { PeerBudget } from './budget.ts';
import type { TlsFiles } from './client.ts';
import { type Gossiper, GossipRefused } from './gossiper.ts';
import { type PeerWire, wireBytes } from './wire.ts';

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
  throttled: grpc.status.RESOURCE_EXHAUSTED,
};

/** The host part of grpc-js's getPeer() ("127.0.0.1:5000", "[::1]:5000", "ipv4:…"). */
export function peerHost(peer: string): string {
  return peer
    .replace(/^ipv[46]:/, '')
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '');
}

/**
 * Whom a call is charged to: the id it claims and the host it comes from. (Without a cluster
 * secret ids are not proven, so the host is part of the key.)
 */
function senderKey(req: { sender_id?: string }, call: grpc.ServerUnaryCall<unknown, unknown>): string {
  return `${String(req.sender_id ?? '').slice(0, 64)}@${peerHost(call.getPeer())}`;
}

export interface PeerServerOptions {
  wire: PeerWire;
  gossiper: Gossiper;
  credentials: grpc.ServerCredentials;
  maxMessageBytes: number;
  /** Per-sender budgets; absent → unlimited. */
  budget?: PeerBudget;
  /** Phase 2; absent → UNIMPLEMENTED. */
  placeRun?: (req: PlaceRunRequest__Output) => Promise<PlaceRunResponse>;
  /** Stopping (or restarting) runs placed here by their origin; absent → UNIMPLEMENTED. */
  stopRun?: (req: StopRunRequest__Output) => Promise<StopRunResponse>;
  /** Resource-use samples of runs placed here, for their origin; absent → UNIMPLEMENTED. */
  runStats?: (req: RunStatsRequest__Output) => Promise<RunStatsResponse>;
  /** Logs of runs placed here, for their origin; absent → UNIMPLEMENTED. */
  runLogs?: (req: RunLogsRequest__Output, signal: AbortSignal) => Promise<AsyncIterable<RunLogLine>>;
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
    /** Charge the call to its sender; throws GossipRefused('throttled') when the budget is spent. */
    const charge = (req: { sender_id?: string }, call: grpc.ServerUnaryCall<unknown, unknown>) => {
      if (!opts.budget) return;
      const verdict = opts.budget.take(senderKey(req, call), wireBytes(req));
      if (!verdict.ok) throw new GossipRefused('throttled', `sender throttled: ${verdict.reason}`);
    };
    /** A unary method served by `handler` (UNIMPLEMENTED when absent), charged to its sender. */
    const unary =
      <Req extends { sender_id?: string }>(
        method: string,
        handler: ((req: Req) => Promise<unknown>) | undefined,
      ) =>
      (call: grpc.ServerUnaryCall<Req, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        if (!handler) {
          cb({ code: grpc.status.UNIMPLEMENTED, details: `this node does not serve ${method}` });
          return;
        }
        try {
          charge(call.request, call);
        } catch (e) {
          cb(fail(method, call, e));
          return;
        }
        handler(call.request).then(
          (res) => cb(null, res),
          (e) => cb(fail(method, call, e)),
        );
      };
    this.#server.addService(opts.wire.service, {
      ExchangePeers: (
        call: grpc.ServerUnaryCall<ExchangeRequest__Output, unknown>,
        cb: grpc.sendUnaryData<unknown>,
      ) => {
        try {
          charge(call.request, call);
          cb(null, opts.gossiper.handleExchange(call.request));
        } catch (e) {
          cb(fail('ExchangePeers', call, e));
        }
      },
      PlaceRun: unary('PlaceRun', opts.placeRun),
      StopRun: unary('StopRun', opts.stopRun),
      RunStats: unary('RunStats', opts.runStats),
      RunLogs: (call: grpc.ServerWritableStream<RunLogsRequest__Output, RunLogLine>) => {
        const handler = opts.runLogs;
        const end = (e: unknown) => call.emit('error', fail('RunLogs', call as never, e));
        if (!handler) {
          end(new GossipRefused('invalid', 'this node does not serve RunLogs'));
          return;
        }
        try {
          charge(call.request, call as never);
        } catch (e) {
          end(e);
          return;
        }
        // The reader went away (cancelled, or the connection dropped): stop reading the engine.
        const gone = new AbortController();
        call.on('cancelled', () => gone.abort());
        call.on('close', () => gone.abort());
        void (async () => {
          try {
            const lines = await handler(call.request, gone.signal);
            // Accepted: the headers tell the caller so before any line (a quiet log sends none).
            call.sendMetadata(new grpc.Metadata());
            for await (const line of lines) {
              if (gone.signal.aborted) break;
              // Respect back-pressure: a slow reader slows the engine read, not memory.
              if (!call.write(line)) await new Promise((r) => call.once('drain', r));
            }
            if (!gone.signal.aborted) call.end();
          } catch (e) {
            if (!gone.signal.aborted) end(e);
          }
        })();
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
