// Original file: proto/peer.proto

import type { NodeState as _NodeState, NodeState__Output as _NodeState__Output } from './NodeState.ts';
import type { NodeDigest as _NodeDigest, NodeDigest__Output as _NodeDigest__Output } from './NodeDigest.ts';
import type { Auth as _Auth, Auth__Output as _Auth__Output } from './Auth.ts';

export interface ExchangeRequest {
  /**
   * Advertised gRPC addresses (host:port) of members the sender believes alive.
   */
  'known_peers'?: (string)[];
  'sender_id'?: (string);
  'nodes'?: (_NodeState)[];
  'digests'?: (_NodeDigest)[];
  'want'?: (string)[];
  /**
   * True when `digests` is a bounded selection rather than every member the sender knows: the
   * answerer then cannot infer from a missing digest that the sender lacks a member.
   */
  'digests_partial'?: (boolean);
  'auth'?: (_Auth | null);
}

export interface ExchangeRequest__Output {
  /**
   * Advertised gRPC addresses (host:port) of members the sender believes alive.
   */
  'known_peers': (string)[];
  'sender_id': (string);
  'nodes': (_NodeState__Output)[];
  'digests': (_NodeDigest__Output)[];
  'want': (string)[];
  /**
   * True when `digests` is a bounded selection rather than every member the sender knows: the
   * answerer then cannot infer from a missing digest that the sender lacks a member.
   */
  'digests_partial': (boolean);
  'auth': (_Auth__Output | null);
}
