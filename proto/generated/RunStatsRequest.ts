// Original file: proto/peer.proto

import type { Auth as _Auth, Auth__Output as _Auth__Output } from './Auth.ts';

export interface RunStatsRequest {
  'sender_id'?: (string);
  'allocation_id'?: (string);
  'auth'?: (_Auth | null);
}

export interface RunStatsRequest__Output {
  'sender_id': (string);
  'allocation_id': (string);
  'auth': (_Auth__Output | null);
}
