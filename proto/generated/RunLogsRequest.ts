// Original file: proto/peer.proto

import type { Auth as _Auth, Auth__Output as _Auth__Output } from './Auth.ts';

export interface RunLogsRequest {
  'sender_id'?: (string);
  'allocation_id'?: (string);
  /**
   * Last lines to send first (0: the engine's default).
   */
  'tail'?: (number);
  'follow'?: (boolean);
  /**
   * Only lines after this time (RFC 3339), when set.
   */
  'since'?: (string);
  'auth'?: (_Auth | null);
}

export interface RunLogsRequest__Output {
  'sender_id': (string);
  'allocation_id': (string);
  /**
   * Last lines to send first (0: the engine's default).
   */
  'tail': (number);
  'follow': (boolean);
  /**
   * Only lines after this time (RFC 3339), when set.
   */
  'since': (string);
  'auth': (_Auth__Output | null);
}
