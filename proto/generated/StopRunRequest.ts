// Original file: proto/peer.proto

import type { Auth as _Auth, Auth__Output as _Auth__Output } from './Auth.ts';

export interface StopRunRequest {
  'sender_id'?: (string);
  /**
   * The allocation id PlaceRun answered.
   */
  'allocation_id'?: (string);
  /**
   * Also delete the container (its quota is released either way).
   */
  'remove'?: (boolean);
  /**
   * Restart it instead: a running run keeps its allocation, a stopped one is booked again on the
   * peer (refused without room) and started.
   */
  'restart'?: (boolean);
  'auth'?: (_Auth | null);
}

export interface StopRunRequest__Output {
  'sender_id': (string);
  /**
   * The allocation id PlaceRun answered.
   */
  'allocation_id': (string);
  /**
   * Also delete the container (its quota is released either way).
   */
  'remove': (boolean);
  /**
   * Restart it instead: a running run keeps its allocation, a stopped one is booked again on the
   * peer (refused without room) and started.
   */
  'restart': (boolean);
  'auth': (_Auth__Output | null);
}
