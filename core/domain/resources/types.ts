/**
 * Resources (the design document's 算力资源, section 5.1): Docker engines, Kubernetes clusters and
 * VMs (Docker over SSH) that this node runs workloads on. The catalog stores them (credentials
 * sealed), keeps one live Runner per resource, and tracks reachability.
 */
import type { SerialHook } from '../../kernel/hooks.ts';
import { serviceKey } from '../../kernel/services.ts';
import type { Capacity, MeasuredUsage, Runner } from '../../slots/runner.ts';

export const RESOURCE_TYPES = ['docker', 'kubernetes', 'vm'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/**
 * `connected`: answering; `unreachable`: cannot be reached right now (its workloads are kept and
 * accounted, nothing new is placed on it); `disconnected`: not checked yet (just registered);
 * `error`: unusable as configured (the endpoint is not an engine of its type, credentials refused,
 * a sealed secret tampered with, no runner installed for its type, its address now refused).
 */
export const RESOURCE_STATUSES = ['connected', 'disconnected', 'error', 'unreachable'] as const;
export type ResourceStatus = (typeof RESOURCE_STATUSES)[number];

/** A resource as the domain sees it. Quantities in base units (cores, bytes, cards). */
export interface ResourceRecord {
  id: string;
  name: string;
  type: ResourceType;
  url: string;
  status: ResourceStatus;
  /** Why it is unreachable or in error; generic, never a credential or a raw engine answer. */
  statusReason?: string;
  /** What the engine reports; undefined until first reached. */
  capacity?: Capacity;
  /**
   * What IARNet's workloads on it measurably use, from the last refresh, when the engine serves
   * metrics (Kubernetes: metrics.k8s.io). Kept in memory only: a sample is worth nothing later.
   */
  measured?: MeasuredUsage;
  /** Operator caps below the engine's capacity (optional). */
  limits?: { cpu?: number; memory?: number; gpu?: number };
  description?: string;
  tags: string[];
  location?: string;
  /**
   * kubernetes: the namespace its pods go to (for the built-in cluster, its ServiceAccount's as last
   * detected). Undefined: the runner's configured default.
   */
  namespace?: string;
  /** Which credentials are stored (never their values). */
  credentials: {
    token: boolean;
    tlsCa: boolean;
    tlsCert: boolean;
    tlsKey: boolean;
    tlsSkipVerify: boolean;
    sshKey: boolean;
    sshPassword: boolean;
    sshUser?: string;
    sshPort?: number;
    /** Pinned host key fingerprint of a vm (`SHA256:…`); not a secret. */
    sshHostKey?: string;
  };
  /** Registered by the node itself (the local engine in standalone mode, the own cluster in k8s mode). */
  builtin: boolean;
  createdAt: string;
  updatedAt: string;
  /** Last time capacity/status was refreshed from the engine. */
  lastUpdated: string;
}

/** What the scheduler may place on a resource: capacity capped by the operator's limits. */
export function effectiveCapacity(
  r: ResourceRecord,
): { cpu: number; memory: number; gpu: number } | undefined {
  if (!r.capacity) return undefined;
  const cap = (engine: number, limit?: number) => (limit === undefined ? engine : Math.min(engine, limit));
  return {
    cpu: cap(r.capacity.cpu, r.limits?.cpu),
    memory: cap(r.capacity.memory, r.limits?.memory),
    gpu: cap(r.capacity.gpu, r.limits?.gpu),
  };
}

export interface ResourceCatalog {
  list(): Promise<ResourceRecord[]>;
  get(id: string): Promise<ResourceRecord | undefined>;
  /** The live Runner of a resource, created on first use from its unsealed connection. */
  runner(id: string): Promise<Runner>;
  /** Ask the engine for capacity; updates status to connected or unreachable/error. */
  refresh(id: string): Promise<ResourceRecord>;
  /** Record that a call to the resource failed because it could not be reached. */
  markUnreachable(id: string, reason: string): Promise<void>;
}

export const ResourceCatalogKey = serviceKey<ResourceCatalog>('resources');

declare module '../../kernel/hooks.ts' {
  interface IarnetHooks {
    /**
     * A resource is about to be deleted. Handlers throw ApiError(409) to refuse (e.g. running
     * workloads and not forced) or, when forced, stop and release its workloads first.
     */
    'resource:deleting': SerialHook<[resource: ResourceRecord, opts: { force: boolean }]>;
    /** A resource was created, updated, deleted, or changed status. */
    'resource:changed': SerialHook<
      [resource: ResourceRecord, change: 'created' | 'updated' | 'deleted' | 'status']
    >;
  }
}
