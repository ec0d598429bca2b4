/**
 * The gRPC side of proto/peer.proto: loading the proto, byte-counting serializers, and the
 * conversions between wire messages and membership records.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ExchangeRequest } from '../../proto/generated/ExchangeRequest.ts';
import type { NodeDigest__Output } from '../../proto/generated/NodeDigest.ts';
import type { NodeState, NodeState__Output } from '../../proto/generated/NodeState.ts';
import type { ResourceSummary__Output } from '../../proto/generated/ResourceSummary.ts';
import type { Digest, MemberState, NodeStatus, ResourceSummary } from './membership.ts';

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** proto/peer.proto next to the sources, or next to the compiled files in dist/. */
export function protoPath(): string {
  const candidates = ['../../proto/peer.proto', '../../../proto/peer.proto'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`proto/peer.proto not found (looked at ${candidates.join(', ')})`);
  return found;
}

/** Hidden property of a decoded request: the size of its encoding on the wire. */
export const WIRE_BYTES = Symbol('wireBytes');
export const wireBytes = (msg: object): number => (msg as { [WIRE_BYTES]?: number })[WIRE_BYTES] ?? 0;

export type PeerMethod = 'ExchangePeers' | 'PlaceRun' | 'StopRun' | 'RunLogs' | 'RunStats';

export interface PeerWire {
  service: grpc.ServiceDefinition;
  Client: grpc.ServiceClientConstructor;
  /** Encoding of a request/response without its auth field: what the HMAC covers. */
  encodeRequest(method: PeerMethod, msg: object): Buffer;
  encodeResponse(method: PeerMethod, msg: object): Buffer;
}

/**
 * Load the service; `count(direction, bytes)` sees every serialized message, so bytes sent and
 * received are measured on the wire encoding itself.
 */
export function loadPeerWire(count?: (direction: 'sent' | 'received', bytes: number) => void): PeerWire {
  const def = protoLoader.loadSync(protoPath(), LOADER_OPTIONS);
  const raw = def.PeerService as grpc.ServiceDefinition;
  const service: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  // The same definition serves the server (responses out, requests in) and the client
  // (requests out, responses in); sizes are counted where bytes cross.
  for (const [name, m] of Object.entries(raw)) {
    service[name] = {
      ...m,
      requestSerialize: (value: unknown) => {
        const b = m.requestSerialize(value);
        count?.('sent', b.length);
        return b;
      },
      requestDeserialize: (b: Buffer) => {
        count?.('received', b.length);
        const msg = m.requestDeserialize(b);
        // The server charges the sender's byte budget with this (see budget.ts).
        if (msg && typeof msg === 'object') Object.defineProperty(msg, WIRE_BYTES, { value: b.length });
        return msg;
      },
      responseSerialize: (value: unknown) => {
        const b = m.responseSerialize(value);
        count?.('sent', b.length);
        return b;
      },
      responseDeserialize: (b: Buffer) => {
        count?.('received', b.length);
        return m.responseDeserialize(b);
      },
    };
  }
  const Client = grpc.makeGenericClientConstructor(service, 'PeerService');
  const method = (name: string) => {
    const m = raw[name];
    if (!m) throw new Error(`PeerService has no method ${name}`);
    return m;
  };
  return {
    service,
    Client,
    encodeRequest: (name, msg) => method(name).requestSerialize(canonical({ ...msg, auth: null })),
    encodeResponse: (name, msg) => method(name).responseSerialize(canonical({ ...msg, auth: null })),
  };
}

/**
 * The object without proto3 default values. protobufjs encodes a field that is present even when
 * it holds the default ('' or 0), while a decoder cannot tell the two apart; dropping defaults makes
 * the sender's and the receiver's encodings of one message identical, which the HMAC needs.
 * Nested messages are kept even when empty: their presence is encoded.
 */
function canonical(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined || v === '' || v === 0 || v === false) continue;
    if (v === 'NODE_STATUS_UNSPECIFIED') continue;
    if (Buffer.isBuffer(v)) {
      if (v.length) out[k] = v;
    } else if (Array.isArray(v)) {
      if (v.length) out[k] = v.map((x) => (x !== null && typeof x === 'object' ? canonical(x) : x));
    } else if (k === 'env') {
      // A map: every entry is encoded, empty values included.
      if (Object.keys(v).length) out[k] = v;
    } else if (typeof v === 'object') {
      out[k] = canonical(v);
    } else {
      out[k] = v;
    }
  }
  return out;
}

const STATUS_TO_WIRE: Record<NodeStatus, NodeState['status']> = {
  alive: 'ALIVE',
  suspect: 'SUSPECT',
  dead: 'DEAD',
  left: 'LEFT',
};
const STATUS_FROM_WIRE: Record<string, NodeStatus> = {
  ALIVE: 'alive',
  SUSPECT: 'suspect',
  DEAD: 'dead',
  LEFT: 'left',
};

export class WireError extends Error {
  override name = 'WireError';
}

export function statusFromWire(s: string): NodeStatus {
  const st = STATUS_FROM_WIRE[s];
  if (!st) throw new WireError(`unknown node status ${s}`);
  return st;
}

export function toWireState(m: MemberState): NodeState {
  return {
    node_id: m.id,
    grpc_address: m.grpcAddr,
    http_address: m.httpAddr,
    incarnation: m.incarnation,
    heartbeat: m.heartbeat,
    status: STATUS_TO_WIRE[m.status],
    resources: m.resources
      ? {
          limits: m.resources.limits,
          current: m.resources.current,
          available: m.resources.available,
          resource_count: m.resources.resourceCount,
        }
      : null,
    version: m.version,
    updated_at_ms: m.updatedAt,
    data_version: m.dataVersion,
  };
}

function summaryFromWire(r: ResourceSummary__Output | null): ResourceSummary | undefined {
  if (!r?.limits || !r.current || !r.available) return undefined;
  const amounts = (a: { cpu: number; memory: number; gpu: number }) => ({
    cpu: Number(a.cpu),
    memory: Number(a.memory),
    gpu: Number(a.gpu),
  });
  return {
    limits: amounts(r.limits),
    current: amounts(r.current),
    available: amounts(r.available),
    resourceCount: Number(r.resource_count),
  };
}

export function fromWireState(n: NodeState__Output): MemberState {
  const resources = summaryFromWire(n.resources);
  return {
    id: String(n.node_id),
    grpcAddr: String(n.grpc_address),
    httpAddr: String(n.http_address),
    incarnation: Number(n.incarnation),
    heartbeat: Number(n.heartbeat),
    status: statusFromWire(n.status),
    ...(resources ? { resources } : {}),
    version: String(n.version),
    updatedAt: Number(n.updated_at_ms),
    dataVersion: Number(n.data_version),
  };
}

export function toWireDigest(d: Digest) {
  return {
    node_id: d.id,
    incarnation: d.incarnation,
    heartbeat: d.heartbeat,
    status: STATUS_TO_WIRE[d.status],
    data_version: d.dataVersion,
  };
}

export function fromWireDigest(d: NodeDigest__Output): Digest {
  return {
    id: String(d.node_id),
    incarnation: Number(d.incarnation),
    heartbeat: Number(d.heartbeat),
    status: statusFromWire(d.status),
    dataVersion: Number(d.data_version),
  };
}

export type { ExchangeRequest };
