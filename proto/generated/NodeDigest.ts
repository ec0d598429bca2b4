// Original file: proto/peer.proto

import type { NodeStatus as _NodeStatus, NodeStatus__Output as _NodeStatus__Output } from './NodeStatus.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * What a node says about one member; newer = higher (incarnation, heartbeat).
 */
export interface NodeDigest {
  'node_id'?: (string);
  'incarnation'?: (number | string | Long);
  'heartbeat'?: (number | string | Long);
  'status'?: (_NodeStatus);
  /**
   * Bumped (within one incarnation) whenever addresses, resources or version change.
   */
  'data_version'?: (number | string | Long);
}

/**
 * What a node says about one member; newer = higher (incarnation, heartbeat).
 */
export interface NodeDigest__Output {
  'node_id': (string);
  'incarnation': (number);
  'heartbeat': (number);
  'status': (_NodeStatus__Output);
  /**
   * Bumped (within one incarnation) whenever addresses, resources or version change.
   */
  'data_version': (number);
}
