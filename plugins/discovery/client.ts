/**
 * Outgoing gRPC calls to peers: one channel per peer address, reused across rounds and closed
 * when the address is no longer needed, every call with a deadline and the receive-size cap.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import ipaddr from 'ipaddr.js';
import { AddressPolicy } from '../../core/domain/address-policy.ts';
import type { ExchangeResponse__Output } from '../../proto/generated/ExchangeResponse.ts';
import type { PlaceRunResponse__Output } from '../../proto/generated/PlaceRunResponse.ts';
import type { RunLogLine__Output } from '../../proto/generated/RunLogLine.ts';
import type { RunStatsResponse__Output } from '../../proto/generated/RunStatsResponse.ts';
import type { StopRunResponse__Output } from '../../proto/generated/StopRunResponse.ts';
import { splitHostPort } from './address.ts';
import type { ExchangeTransport } from './gossiper.ts';
import type { PeerWire } from './wire.ts';

export interface TlsFiles {
  enabled: boolean;
  cert_file?: string | undefined;
  key_file?: string | undefined;
  ca_file?: string | undefined;
}

export function clientCredentials(tls: TlsFiles | undefined): grpc.ChannelCredentials {
  if (!tls?.enabled) return grpc.credentials.createInsecure();
  const read = (f?: string) => (f ? readFileSync(f) : null);
  return grpc.credentials.createSsl(read(tls.ca_file), read(tls.key_file), read(tls.cert_file));
}

type UnaryFn = (
  req: object,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: unknown) => void,
) => grpc.ClientUnaryCall;

const RESOLVE_TTL_MS = 30_000;
const joinHostPort = (host: string, port: number) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

export class PeerClients implements ExchangeTransport {
  readonly #wire: PeerWire;
  readonly #creds: grpc.ChannelCredentials;
  readonly #maxBytes: number;
  readonly #defaultTimeoutMs: number;
  readonly #checkAddress: (addr: string) => string | undefined;
  readonly #policy = new AddressPolicy();
  /** Peer address → channel, and the IP it was dialled at. */
  readonly #clients = new Map<string, { client: grpc.Client; ip: string; until: number }>();

  constructor(
    wire: PeerWire,
    opts: {
      credentials: grpc.ChannelCredentials;
      maxMessageBytes: number;
      timeoutMs: number;
      /** Checks resolved addresses of host names (loopback rule); IP literals were checked on receipt. */
      checkAddress?: (addr: string) => string | undefined;
    },
  ) {
    this.#wire = wire;
    this.#creds = opts.credentials;
    this.#maxBytes = opts.maxMessageBytes;
    this.#defaultTimeoutMs = opts.timeoutMs;
    this.#checkAddress = opts.checkAddress ?? (() => undefined);
  }

  /**
   * A channel to `addr`. Host names are resolved here and every answer checked (no metadata or
   * link-local targets); the channel dials the checked IP, so a second DNS answer cannot swap in
   * another target. TLS still verifies the name.
   */
  async #client(addr: string): Promise<grpc.Client> {
    const now = Date.now();
    const cached = this.#clients.get(addr);
    if (cached && cached.until > now) return cached.client;
    const hp = splitHostPort(addr);
    if (!hp) throw new Error(`${addr} is not host:port`);
    let ip = hp.host;
    if (!ipaddr.isValid(hp.host)) {
      const [first] = await this.#policy.resolve(hp.host, { timeoutMs: 2000 });
      ip = first!;
      const bad = this.#checkAddress(joinHostPort(ip, hp.port));
      if (bad) throw new Error(`${addr} resolves to a refused address: ${bad}`);
    }
    if (cached?.ip === ip) {
      cached.until = now + RESOLVE_TTL_MS;
      return cached.client;
    }
    cached?.client.close();
    const client = new this.#wire.Client(joinHostPort(ip, hp.port), this.#creds, {
      'grpc.max_receive_message_length': this.#maxBytes,
      'grpc.max_send_message_length': this.#maxBytes,
      // Fail fast on a dead peer instead of queueing calls behind reconnect back-off.
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2000,
      ...(ip !== hp.host
        ? { 'grpc.ssl_target_name_override': hp.host, 'grpc.default_authority': hp.host }
        : {}),
    });
    this.#clients.set(addr, {
      client,
      ip,
      until: ipaddr.isValid(hp.host) ? Number.POSITIVE_INFINITY : now + RESOLVE_TTL_MS,
    });
    return client;
  }

  async #call<T>(method: string, addr: string, req: object, timeoutMs?: number): Promise<T> {
    const client = (await this.#client(addr)) as unknown as Record<string, UnaryFn>;
    const fn = client[method]!;
    return new Promise<T>((resolve, reject) => {
      fn.call(
        client,
        req,
        new grpc.Metadata(),
        { deadline: Date.now() + (timeoutMs ?? this.#defaultTimeoutMs) },
        (err, res) => (err ? reject(err) : resolve(res as T)),
      );
    });
  }

  exchange(addr: string, req: object, timeoutMs?: number): Promise<ExchangeResponse__Output> {
    return this.#call('ExchangePeers', addr, req, timeoutMs);
  }

  placeRun(addr: string, req: object, timeoutMs?: number): Promise<PlaceRunResponse__Output> {
    return this.#call('PlaceRun', addr, req, timeoutMs);
  }

  stopRun(addr: string, req: object, timeoutMs?: number): Promise<StopRunResponse__Output> {
    return this.#call('StopRun', addr, req, timeoutMs);
  }

  runStats(addr: string, req: object, timeoutMs?: number): Promise<RunStatsResponse__Output> {
    return this.#call('RunStats', addr, req, timeoutMs);
  }

  /**
   * A run's log lines (server streaming), once the peer accepted the call (its response headers
   * arrived; a refusal throws here), until the peer ends the stream or the signal cancels the
   * call. No deadline on the stream: a followed log runs as long as its reader wants.
   */
  async runLogs(addr: string, req: object, signal: AbortSignal): Promise<AsyncIterable<RunLogLine__Output>> {
    const client = (await this.#client(addr)) as unknown as Record<
      string,
      (req: object, meta: grpc.Metadata) => grpc.ClientReadableStream<RunLogLine__Output>
    >;
    const call = client.RunLogs!.call(client, req, new grpc.Metadata());
    const cancel = () => call.cancel();
    signal.addEventListener('abort', cancel, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the peer did not answer')), this.#defaultTimeoutMs);
        call.once('metadata', () => {
          clearTimeout(timer);
          resolve();
        });
        call.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
    } catch (err) {
      signal.removeEventListener('abort', cancel);
      call.cancel();
      throw err;
    }
    return (async function* () {
      try {
        for await (const line of call as AsyncIterable<RunLogLine__Output>) yield line;
      } catch (err) {
        if (!signal.aborted) throw err;
      } finally {
        signal.removeEventListener('abort', cancel);
        call.cancel();
      }
    })();
  }

  /** Close channels to addresses not in `keep`. */
  prune(keep: Set<string>): void {
    for (const [addr, c] of this.#clients) {
      if (!keep.has(addr)) {
        c.client.close();
        this.#clients.delete(addr);
      }
    }
  }

  close(): void {
    for (const c of this.#clients.values()) c.client.close();
    this.#clients.clear();
  }
}
