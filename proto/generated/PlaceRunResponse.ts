// Original file: proto/peer.proto

import type { Auth as _Auth, Auth__Output as _Auth__Output } from './Auth.ts';

export interface PlaceRunResponse {
  'accepted'?: (boolean);
  'node_id'?: (string);
  'container_id'?: (string);
  'allocation_id'?: (string);
  'resource_id'?: (string);
  'error'?: (string);
  'auth'?: (_Auth | null);
}

export interface PlaceRunResponse__Output {
  'accepted': (boolean);
  'node_id': (string);
  'container_id': (string);
  'allocation_id': (string);
  'resource_id': (string);
  'error': (string);
  'auth': (_Auth__Output | null);
}
