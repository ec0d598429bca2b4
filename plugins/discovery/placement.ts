/**
 * Placing runs on peers (the 'run:overflow' hook): when a run does not fit here, try the peers
 * whose gossiped available resources fit, most room first, over the authenticated PlaceRun RPC.
 * The peer does not trust our view of it: it runs the request through its own RunService (its
 * ledger decides) as a principal of kind 'node', which never overflows again — one hop only.
 */

import type { RemotePlacement, RunRequest, RunService } from '../../core/domain/runs.ts';
import { ApiError } from '../../core/kernel/errors.ts';
import type { Logger } from '../../core/kernel/logger.ts';
import type { Principal } from '../../core/slots/auth.ts';
import type { PlaceRunRequest__Output } from '../../proto/generated/PlaceRunRequest.ts';
import type { PlaceRunResponse, PlaceRunResponse__Output } from '../../proto/generated/PlaceRunResponse.ts';
import { AuthError, type MessageAuth } from './auth.ts';
import type { PeerClients } from './client.ts';
import { GossipRefused } from './gossiper.ts';
import type { Member, Membership } from './membership.ts';
import type { PeerWire } from './wire.ts';

export interface PlacementOptions {
  membership: Membership;
  clients: Pick<PeerClients, 'placeRun'>;
  wire: Pick<PeerWire, 'encodeRequest' | 'encodeResponse'>;
  auth?: MessageAuth;
  runs?: RunService;
  nodeId: string;
  logger: Logger;
  timeoutMs: number;
  /** Most peers tried for one run. */
  maxAttempts?: number;
}

const MAX_STRING = 4096;

export class Placement {
  readonly #o: PlacementOptions;

  constructor(opts: PlacementOptions) {
    this.#o = opts;
  }

  /** Alive peers whose advertised room fits the request, most free CPU first. */
  candidates(req: Pick<RunRequest, 'cpuMilli' | 'memory' | 'gpu'>): Member[] {
    return this.#o.membership
      .members()
      .filter((m) => {
        const a = m.resources?.available;
        return (
          m.id !== this.#o.nodeId &&
          m.status === 'alive' &&
          a !== undefined &&
          Math.round(a.cpu * 1000) >= req.cpuMilli &&
          a.memory >= req.memory &&
          a.gpu >= req.gpu
        );
      })
      .sort((x, y) => (y.resources?.available.cpu ?? 0) - (x.resources?.available.cpu ?? 0));
  }

  /** The 'run:overflow' handler: a placement on the first peer that accepts, else undefined (503 stays). */
  async overflow(req: RunRequest, _principal: Principal): Promise<RemotePlacement | undefined> {
    if (req.ports?.length) return undefined; // published ports belong to this host's address
    for (const peer of this.candidates(req).slice(0, this.#o.maxAttempts ?? 3)) {
      const msg: Record<string, unknown> = {
        sender_id: this.#o.nodeId,
        image: req.image,
        command: req.command ?? [],
        cpu_milli: req.cpuMilli,
        memory: req.memory,
        gpu: req.gpu,
        env: req.env ?? {},
      };
      if (this.#o.auth)
        msg.auth = this.#o.auth.sign('PlaceRun/req', this.#o.wire.encodeRequest('PlaceRun', msg));
      try {
        const res: PlaceRunResponse__Output = await this.#o.clients.placeRun(
          peer.grpcAddr,
          msg,
          this.#o.timeoutMs,
        );
        if (this.#o.auth) {
          this.#o.auth.verify(
            'PlaceRun/res',
            this.#o.wire.encodeResponse('PlaceRun', res),
            res.auth,
            (msg.auth as { nonce: Buffer }).nonce,
          );
        }
        if (res.accepted && res.container_id && res.allocation_id) {
          this.#o.logger.info({ peer: peer.id, allocationId: res.allocation_id }, 'run placed on a peer');
          return {
            nodeId: res.node_id || peer.id,
            containerId: res.container_id,
            allocationId: res.allocation_id,
            resourceId: res.resource_id,
          };
        }
        this.#o.logger.info({ peer: peer.id, reason: res.error }, 'peer refused the run; trying the next');
      } catch (err) {
        this.#o.logger.info(
          { peer: peer.id, err: (err as Error).message },
          'placing on peer failed; trying the next',
        );
      }
    }
    return undefined;
  }

  /** Server side of PlaceRun: authenticate, then let the local RunService (and ledger) decide. */
  async handlePlaceRun(req: PlaceRunRequest__Output): Promise<PlaceRunResponse> {
    if (this.#o.auth) {
      try {
        this.#o.auth.verify('PlaceRun/req', this.#o.wire.encodeRequest('PlaceRun', req), req.auth);
      } catch (e) {
        if (e instanceof AuthError) throw new GossipRefused('unauthenticated', e.message);
        throw e;
      }
    }
    const sender = this.#o.membership.get(req.sender_id);
    const sign = (res: PlaceRunResponse): PlaceRunResponse => {
      if (this.#o.auth && req.auth) {
        res.auth = this.#o.auth.sign(
          'PlaceRun/res',
          this.#o.wire.encodeResponse('PlaceRun', res),
          req.auth.nonce,
        );
      }
      return res;
    };
    // Only members we know alive may place work here.
    if (sender?.status !== 'alive' || sender.id === this.#o.nodeId) {
      return sign({ accepted: false, error: 'unknown or not alive sender' });
    }
    if (!this.#o.runs) return sign({ accepted: false, error: 'this node does not run containers' });
    const bad =
      !req.image ||
      req.image.length > MAX_STRING ||
      req.command.length > 1000 ||
      req.command.some((c) => c.length > MAX_STRING) ||
      Object.keys(req.env).length > 1000 ||
      !Number.isSafeInteger(Number(req.cpu_milli)) ||
      Number(req.cpu_milli) <= 0 ||
      !Number.isSafeInteger(Number(req.memory)) ||
      Number(req.memory) <= 0;
    if (bad) throw new GossipRefused('invalid', 'malformed PlaceRun request');
    const principal: Principal = { id: `node:${sender.id}`, name: sender.id, role: 'operator', kind: 'node' };
    try {
      const result = await this.#o.runs.run(
        {
          image: req.image,
          ...(req.command.length ? { command: req.command } : {}),
          cpuMilli: Number(req.cpu_milli),
          memory: Number(req.memory),
          gpu: Number(req.gpu),
          ...(Object.keys(req.env).length ? { env: req.env } : {}),
        },
        principal,
      );
      if (result.where !== 'local') return sign({ accepted: false, error: 'not placed locally' });
      return sign({
        accepted: true,
        node_id: this.#o.nodeId,
        container_id: result.workload.id,
        allocation_id: result.allocation.id,
        resource_id: result.allocation.resourceId,
      });
    } catch (e) {
      const why = e instanceof ApiError ? e.details : 'internal error';
      if (!(e instanceof ApiError)) this.#o.logger.warn({ err: e, sender: sender.id }, 'PlaceRun failed');
      return sign({ accepted: false, error: why });
    }
  }
}
