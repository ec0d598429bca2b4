/**
 * Controlling runs this node placed on peers, from this node: the operator who sees a run
 * "on node-b" in the origin's container list can stop, restart or delete it there (the StopRun
 * RPC), read its log (RunLogs) and its resource use (RunStats), as with a local container; the
 * peer's ledger releases or books its quota.
 *
 * The peer obeys only the node that placed the run: the allocation's owner is that node's
 * principal (`node:<id>`, set by PlaceRun), and the message is HMAC-signed with the cluster secret
 * (or comes over mutual TLS), as PlaceRun's is.
 */
import type { Allocation } from '../../core/domain/ledger/types.ts';
import type { RemoteContainer, RunService } from '../../core/domain/runs.ts';
import { ApiError } from '../../core/kernel/errors.ts';
import type { Logger } from '../../core/kernel/logger.ts';
import type { LogLine, LogOptions, Runner, WorkloadStats } from '../../core/slots/runner.ts';
import type { RunLogLine, RunLogLine__Output } from '../../proto/generated/RunLogLine.ts';
import type { RunLogsRequest__Output } from '../../proto/generated/RunLogsRequest.ts';
import type { RunStatsRequest__Output } from '../../proto/generated/RunStatsRequest.ts';
import type { RunStatsResponse } from '../../proto/generated/RunStatsResponse.ts';
import type { StopRunRequest__Output } from '../../proto/generated/StopRunRequest.ts';
import type { StopRunResponse } from '../../proto/generated/StopRunResponse.ts';
import { AuthError, type MessageAuth } from './auth.ts';
import type { PeerClients } from './client.ts';
import { GossipRefused } from './gossiper.ts';
import type { Membership } from './membership.ts';
import type { RemoteRuns } from './remote-runs.ts';
import type { PeerWire } from './wire.ts';

export interface RemoteControlOptions {
  membership: Pick<Membership, 'get'>;
  clients: Pick<PeerClients, 'stopRun' | 'runLogs' | 'runStats'>;
  wire: Pick<PeerWire, 'encodeRequest' | 'encodeResponse'>;
  auth?: MessageAuth;
  runs: RunService;
  /** The local ledger's lookup by allocation id (peer side). */
  allocation: (id: string) => Promise<Allocation | undefined>;
  remoteRuns: RemoteRuns;
  /** The local runner of a resource (peer side, for logs). */
  runner: (resourceId: string) => Promise<Runner>;
  nodeId: string;
  logger: Logger;
  timeoutMs: number;
}

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export class RemoteControl {
  readonly #o: RemoteControlOptions;

  constructor(opts: RemoteControlOptions) {
    this.#o = opts;
  }

  /** The run placed from here as `ref`, and its peer's address; 503 when that peer is gone. */
  async #placed(ref: string): Promise<{ run: RemoteContainer; peer: { grpcAddr: string } } | undefined> {
    const run = await this.#o.remoteRuns.find(ref);
    if (!run) return undefined;
    const peer = this.#o.membership.get(run.nodeId);
    if (!peer?.grpcAddr || peer.status === 'dead') {
      throw new ApiError(
        503,
        'PEER_UNREACHABLE',
        'Peer unavailable',
        `The node ${run.nodeId} running this container is not reachable; nothing was changed`,
      );
    }
    return { run, peer: { grpcAddr: peer.grpcAddr } };
  }

  /**
   * Origin side ('containers:remote-control'): stop or delete the remote run `ref` (its container
   * or allocation id). undefined when `ref` is no run placed from here; the run as listed after a
   * stop; `'removed'` after a delete. A peer that cannot be reached or refuses is a 502/503.
   */
  async control(
    op: 'stop' | 'restart' | 'remove',
    ref: string,
  ): Promise<RemoteContainer | 'removed' | undefined> {
    const found = await this.#placed(ref);
    if (!found) return undefined;
    const { run, peer } = found;
    const msg: Record<string, unknown> = {
      sender_id: this.#o.nodeId,
      allocation_id: run.allocationId,
      remove: op === 'remove',
      restart: op === 'restart',
    };
    const res = await this.#ask('StopRun', run.nodeId, msg, '; nothing was changed', (m) =>
      this.#o.clients.stopRun(peer.grpcAddr, m, this.#o.timeoutMs),
    );
    if (!res.ok) {
      throw new ApiError(502, 'PEER_REFUSED', 'Peer refused', `${run.nodeId}: ${res.error || 'refused'}`);
    }
    if (op === 'remove') {
      await this.#o.remoteRuns.forget(run.allocationId);
      return 'removed';
    }
    if (op === 'restart') return this.#o.remoteRuns.markStarted(run.allocationId);
    return this.#o.remoteRuns.markStopped(run.allocationId);
  }

  /**
   * Origin side ('containers:remote-stats'): one resource-use sample of the remote run `ref`,
   * taken by its peer; undefined when `ref` is no run placed from here. 409 when it does not run.
   */
  async stats(ref: string): Promise<WorkloadStats | undefined> {
    const found = await this.#placed(ref);
    if (!found) return undefined;
    const { run, peer } = found;
    const msg: Record<string, unknown> = { sender_id: this.#o.nodeId, allocation_id: run.allocationId };
    const res = await this.#ask('RunStats', run.nodeId, msg, '', (m) =>
      this.#o.clients.runStats(peer.grpcAddr, m, this.#o.timeoutMs),
    );
    if (res.not_running) {
      throw new ApiError(409, 'NOT_RUNNING', 'Conflict', 'The container is not running');
    }
    if (!res.ok) {
      throw new ApiError(502, 'PEER_REFUSED', 'Peer refused', `${run.nodeId}: ${res.error || 'refused'}`);
    }
    return {
      cpuPercent: res.cpu_percent,
      memoryBytes: res.memory_bytes,
      memoryLimitBytes: res.memory_limit_bytes,
      networkRxBytes: res.network_rx_bytes,
      networkTxBytes: res.network_tx_bytes,
      blockReadBytes: res.block_read_bytes,
      blockWriteBytes: res.block_write_bytes,
      at: res.at,
    };
  }

  /** Peer side of RunStats: the same checks as StopRun, then one sample from the engine. */
  async handleRunStats(req: RunStatsRequest__Output): Promise<RunStatsResponse> {
    this.#verify('RunStats', req);
    const sign = this.#signer<RunStatsResponse>('RunStats', req);
    const a = await this.#placedBy(req);
    if (!a) return sign({ ok: false, error: 'no such run placed by the sender' });
    if (!a.workloadId || a.state === 'released') {
      return sign({ ok: false, not_running: true, error: 'not running' });
    }
    try {
      const runner = await this.#o.runner(a.resourceId);
      const s = await runner.stats(a.workloadId);
      return sign({
        ok: true,
        cpu_percent: s.cpuPercent,
        memory_bytes: s.memoryBytes,
        memory_limit_bytes: s.memoryLimitBytes,
        network_rx_bytes: s.networkRxBytes,
        network_tx_bytes: s.networkTxBytes,
        block_read_bytes: s.blockReadBytes,
        block_write_bytes: s.blockWriteBytes,
        at: s.at,
      });
    } catch (e) {
      this.#o.logger.warn({ err: e, sender: req.sender_id }, 'RunStats failed');
      return sign({ ok: false, error: 'the engine gave no sample' });
    }
  }

  /**
   * Origin side ('containers:remote-logs'): the log of the remote run `ref`, read from its peer;
   * undefined when `ref` is no run placed from here. Lines carry the engine's timestamps.
   */
  async logs(
    ref: string,
    opts: LogOptions & { signal: AbortSignal },
  ): Promise<AsyncIterable<LogLine> | undefined> {
    const found = await this.#placed(ref);
    if (!found) return undefined;
    const { run, peer } = found;
    const msg: Record<string, unknown> = {
      sender_id: this.#o.nodeId,
      allocation_id: run.allocationId,
      tail: opts.tail ?? 0,
      follow: opts.follow === true,
      since: opts.since ?? '',
    };
    if (this.#o.auth) msg.auth = this.#o.auth.sign('RunLogs/req', this.#o.wire.encodeRequest('RunLogs', msg));
    // Accepted or refused before the caller starts streaming: a refusal is a clear 5xx.
    const lines = await this.#o.clients.runLogs(peer.grpcAddr, msg, opts.signal).catch((err: unknown) => {
      throw remoteLogError(run.nodeId, err);
    });
    return (async function* () {
      try {
        for await (const l of lines) yield toLogLine(l);
      } catch (err) {
        if (!opts.signal.aborted) throw remoteLogError(run.nodeId, err);
      }
    })();
  }

  /**
   * Peer side of RunLogs: the same checks as StopRun (refusals throw before any line), then the
   * engine's log of the run.
   */
  async handleRunLogs(req: RunLogsRequest__Output, signal: AbortSignal): Promise<AsyncIterable<RunLogLine>> {
    this.#verify('RunLogs', req);
    const a = await this.#placedBy(req);
    if (!a?.workloadId) throw new GossipRefused('invalid', 'no such run placed by the sender');
    const runner = await this.#o.runner(a.resourceId);
    const lines = runner.logs(a.workloadId, {
      ...(req.tail ? { tail: Math.min(req.tail, 10_000) } : {}),
      follow: req.follow,
      ...(req.since ? { since: req.since } : {}),
      signal,
    });
    return (async function* () {
      for await (const line of lines)
        yield { stream: line.stream, timestamp: line.timestamp, message: line.message };
    })();
  }

  /**
   * A signed unary call to the peer running a placed run, its answer verified (HMAC when a
   * cluster secret is set). A peer that does not answer, or answers unsigned, is a 503.
   */
  async #ask<R extends { auth?: unknown }>(
    method: 'StopRun' | 'RunStats',
    nodeId: string,
    msg: Record<string, unknown>,
    unchanged: string,
    call: (msg: Record<string, unknown>) => Promise<R>,
  ): Promise<R> {
    const auth = this.#o.auth;
    if (auth) msg.auth = auth.sign(`${method}/req`, this.#o.wire.encodeRequest(method, msg));
    try {
      const res = await call(msg);
      if (auth) {
        auth.verify(
          `${method}/res`,
          this.#o.wire.encodeResponse(method, res),
          res.auth as never,
          (msg.auth as { nonce: Buffer }).nonce,
        );
      }
      return res;
    } catch (err) {
      this.#o.logger.info({ peer: nodeId, err: (err as Error).message }, `${method} to a peer failed`);
      throw new ApiError(
        503,
        'PEER_UNREACHABLE',
        'Peer unavailable',
        `The node ${nodeId} running this container did not answer${unchanged}`,
      );
    }
  }

  /** Peer side: how to sign an answer to `req` (unsigned without a cluster secret). */
  #signer<R extends { auth?: unknown }>(
    method: 'StopRun' | 'RunStats',
    req: { auth: { nonce: Buffer } | null },
  ): (res: R) => R {
    return (res) => {
      if (this.#o.auth && req.auth) {
        res.auth = this.#o.auth.sign(
          `${method}/res`,
          this.#o.wire.encodeResponse(method, res),
          req.auth.nonce,
        );
      }
      return res;
    };
  }

  /**
   * Peer side: the allocation of `req`, if the sender placed it and it was not deleted. "No such
   * run" and "not yours" look alike to the sender: nothing to learn about others' runs.
   */
  async #placedBy(req: { sender_id: string; allocation_id: string }): Promise<Allocation | undefined> {
    const a = await this.#o.allocation(req.allocation_id);
    return a && !a.removedAt && a.owner === `node:${req.sender_id}` ? a : undefined;
  }

  /** Authenticated (HMAC when a cluster secret is set) and well-formed, or GossipRefused. */
  #verify(
    method: 'StopRun' | 'RunLogs' | 'RunStats',
    req: { sender_id: string; allocation_id: string; auth: unknown },
  ): void {
    if (this.#o.auth) {
      try {
        this.#o.auth.verify(`${method}/req`, this.#o.wire.encodeRequest(method, req), req.auth as never);
      } catch (e) {
        if (e instanceof AuthError) throw new GossipRefused('unauthenticated', e.message);
        throw e;
      }
    }
    if (!ID.test(req.allocation_id) || !ID.test(req.sender_id)) {
      throw new GossipRefused('invalid', `malformed ${method} request`);
    }
  }

  /** Peer side of StopRun: authenticate, check that the sender placed the run, stop it here. */
  async handleStopRun(req: StopRunRequest__Output): Promise<StopRunResponse> {
    this.#verify('StopRun', req);
    const sign = this.#signer<StopRunResponse>('StopRun', req);
    const a = await this.#placedBy(req);
    if (!a) return sign({ ok: false, error: 'no such run placed by the sender' });
    try {
      if (req.remove) await this.#o.runs.remove(a);
      else if (req.restart) await this.#o.runs.restart(a);
      else if (a.state !== 'released') await this.#o.runs.stop(a);
      this.#o.logger.info(
        { sender: req.sender_id, allocationId: a.id, remove: req.remove, restart: req.restart },
        `${req.remove ? 'deleted' : req.restart ? 'restarted' : 'stopped'} a run for the peer that placed it`,
      );
      return sign({ ok: true });
    } catch (e) {
      const why = e instanceof ApiError ? `${e.message}: ${e.details}` : 'internal error';
      if (!(e instanceof ApiError)) this.#o.logger.warn({ err: e, sender: req.sender_id }, 'StopRun failed');
      return sign({ ok: false, error: why });
    }
  }
}

const toLogLine = (l: RunLogLine__Output): LogLine => ({
  stream: l.stream === 'stderr' ? 'stderr' : 'stdout',
  timestamp: l.timestamp,
  message: l.message,
});

/** A refused or broken log stream from a peer, as the origin reports it. */
function remoteLogError(nodeId: string, err: unknown): ApiError {
  const code = (err as { code?: unknown })?.code;
  // INVALID_ARGUMENT: the peer does not know the run as ours (or the request was malformed).
  if (code === 3)
    return new ApiError(502, 'PEER_REFUSED', 'Peer refused', `${nodeId}: no such run placed by this node`);
  return new ApiError(503, 'PEER_UNREACHABLE', 'Peer unavailable', `The node ${nodeId} did not send the log`);
}
