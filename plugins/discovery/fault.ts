/**
 * TEST-ONLY fault injection for partition tests of real processes. When discovery.test_drop_file
 * (env IARNET_DISCOVERY__TEST_DROP_FILE) names a file, every outgoing peer call (gossip and PlaceRun) to
 * a gRPC address listed in it (one host:port per line) fails at once as UNAVAILABLE, as if the
 * network dropped it. Giving each side of a cluster the other side's addresses cuts it in two;
 * emptying the files heals it. The file is re-read when it changes. Never set this in production:
 * the node logs a warning at start when it is set.
 */
import { readFileSync, statSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { ExchangeResponse__Output } from '../../proto/generated/ExchangeResponse.ts';
import type { PlaceRunResponse__Output } from '../../proto/generated/PlaceRunResponse.ts';
import type { RunLogLine__Output } from '../../proto/generated/RunLogLine.ts';
import type { RunStatsResponse__Output } from '../../proto/generated/RunStatsResponse.ts';
import type { StopRunResponse__Output } from '../../proto/generated/StopRunResponse.ts';
import type { PeerClients } from './client.ts';

export class DropList {
  readonly file: string;
  #mtime = -1;
  #size = -1;
  #addrs = new Set<string>();

  constructor(file: string) {
    this.file = file;
  }

  has(addr: string): boolean {
    let st: { mtimeMs: number; size: number } | undefined;
    try {
      st = statSync(this.file);
    } catch {
      st = undefined;
    }
    if (!st) {
      this.#addrs = new Set();
      this.#mtime = -1;
    } else if (st.mtimeMs !== this.#mtime || st.size !== this.#size) {
      this.#mtime = st.mtimeMs;
      this.#size = st.size;
      this.#addrs = new Set(
        readFileSync(this.file, 'utf8')
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean),
      );
    }
    return this.#addrs.has(addr);
  }
}

function dropped(addr: string): grpc.ServiceError {
  return Object.assign(new Error(`14 UNAVAILABLE: dropped by test fault injection (${addr})`), {
    code: grpc.status.UNAVAILABLE,
    details: 'dropped by test fault injection',
    metadata: new grpc.Metadata(),
  });
}

/** PeerClients whose calls to listed addresses fail. */
export class FaultyClients {
  readonly #inner: PeerClients;
  readonly #drop: DropList;

  constructor(inner: PeerClients, drop: DropList) {
    this.#inner = inner;
    this.#drop = drop;
  }

  exchange(addr: string, req: object, timeoutMs?: number): Promise<ExchangeResponse__Output> {
    if (this.#drop.has(addr)) return Promise.reject(dropped(addr));
    return this.#inner.exchange(addr, req, timeoutMs);
  }

  placeRun(addr: string, req: object, timeoutMs?: number): Promise<PlaceRunResponse__Output> {
    if (this.#drop.has(addr)) return Promise.reject(dropped(addr));
    return this.#inner.placeRun(addr, req, timeoutMs);
  }

  stopRun(addr: string, req: object, timeoutMs?: number): Promise<StopRunResponse__Output> {
    if (this.#drop.has(addr)) return Promise.reject(dropped(addr));
    return this.#inner.stopRun(addr, req, timeoutMs);
  }

  runLogs(addr: string, req: object, signal: AbortSignal): Promise<AsyncIterable<RunLogLine__Output>> {
    if (this.#drop.has(addr)) return Promise.reject(dropped(addr));
    return this.#inner.runLogs(addr, req, signal);
  }

  runStats(addr: string, req: object, timeoutMs?: number): Promise<RunStatsResponse__Output> {
    if (this.#drop.has(addr)) return Promise.reject(dropped(addr));
    return this.#inner.runStats(addr, req, timeoutMs);
  }
}
