// Original file: proto/peer.proto

import type { NodeStatus as _NodeStatus, NodeStatus__Output as _NodeStatus__Output } from './NodeStatus.ts';
import type { ResourceSummary as _ResourceSummary, ResourceSummary__Output as _ResourceSummary__Output } from './ResourceSummary.ts';
import type { Long } from '@grpc/proto-loader';

export interface NodeState {
  'node_id'?: (string);
  'grpc_address'?: (string);
  'http_address'?: (string);
  'incarnation'?: (number | string | Long);
  'heartbeat'?: (number | string | Long);
  'status'?: (_NodeStatus);
  'resources'?: (_ResourceSummary | null);
  'version'?: (string);
  /**
   * Unix milliseconds, by the node's own clock, of its last data change.
   */
  'updated_at_ms'?: (number | string | Long);
  'data_version'?: (number | string | Long);
}

export interface NodeState__Output {
  'node_id': (string);
  'grpc_address': (string);
  'http_address': (string);
  'incarnation': (number);
  'heartbeat': (number);
  'status': (_NodeStatus__Output);
  'resources': (_ResourceSummary__Output | null);
  'version': (string);
  /**
   * Unix milliseconds, by the node's own clock, of its last data change.
   */
  'updated_at_ms': (number);
  'data_version': (number);
}
