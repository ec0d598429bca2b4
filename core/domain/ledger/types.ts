/**
 * The quota ledger's contract. Quantities are integers in the ledger's units so sums are exact:
 * CPU in millicores, memory in bytes, GPU in whole cards.
 */
import { serviceKey } from '../../kernel/services.ts';

export interface Usage {
  /** Millicores. */
  cpuMilli: number;
  /** Bytes. */
  memory: number;
  /** Cards. */
  gpu: number;
}

export const ZERO_USAGE: Usage = Object.freeze({ cpuMilli: 0, memory: 0, gpu: 0 });

export type AllocationState = 'reserved' | 'committed' | 'released';

export interface Allocation {
  id: string;
  resourceId: string;
  /** Node that owns the allocation (this node, or the origin node for runs placed by a peer). */
  nodeId: string;
  state: AllocationState;
  cpuMilli: number;
  memory: number;
  gpu: number;
  image: string;
  command?: string[];
  /** Deterministic workload name: a retried start finds the same workload. */
  workloadName: string;
  /** Engine id once started. */
  workloadId?: string;
  /** Last state seen on the engine (running, exited, ...). */
  workloadState?: string;
  appId?: string;
  /**
   * Copies of a replicated workload (one Kubernetes Deployment), when more than one; the quantities
   * above are then the total of all copies.
   */
  replicas?: number;
  /** Principal id that asked for it. */
  owner: string;
  createdAt: string;
  committedAt?: string;
  releasedAt?: string;
  releaseReason?: string;
  /** Deleted through the API: hidden from listings. */
  removedAt?: string;
}

/** Read side of the ledger that other domain modules (resources API) use. */
export interface LedgerReader {
  /** Active (reserved + committed) usage per resource id. */
  usageByResource(): Promise<Map<string, Usage>>;
  /** Active allocations on one resource. */
  activeOn(resourceId: string): Promise<Allocation[]>;
  /** One allocation by id, in any state. */
  get(id: string): Promise<Allocation | undefined>;
  /** Allocations not deleted through the API: active ones and stopped ones whose container remains. */
  visible(): Promise<Allocation[]>;
}

export const LedgerReaderKey = serviceKey<LedgerReader>('ledger');

export const toMilli = (cores: number) => Math.round(cores * 1000);
export const fromMilli = (milli: number) => milli / 1000;
