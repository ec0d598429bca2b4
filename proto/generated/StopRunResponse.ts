// Original file: proto/peer.proto

import type { Auth as _Auth, Auth__Output as _Auth__Output } from './Auth.ts';

export interface StopRunResponse {
  /**
   * Done, or it was already stopped (removed: gone).
   */
  'ok'?: (boolean);
  /**
   * Why not, when not ok.
   */
  'error'?: (string);
  'auth'?: (_Auth | null);
}

export interface StopRunResponse__Output {
  /**
   * Done, or it was already stopped (removed: gone).
   */
  'ok': (boolean);
  /**
   * Why not, when not ok.
   */
  'error': (string);
  'auth': (_Auth__Output | null);
}
