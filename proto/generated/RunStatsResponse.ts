// Original file: proto/peer.proto

import type { Auth as _Auth, Auth__Output as _Auth__Output } from './Auth.ts';

export interface RunStatsResponse {
  /**
   * A sample, or why not (error): not running, or not a run the caller placed.
   */
  'ok'?: (boolean);
  'error'?: (string);
  /**
   * Percent of one core × cores (Docker's convention: 200 = two full cores).
   */
  'cpu_percent'?: (number | string);
  'memory_bytes'?: (number | string);
  'memory_limit_bytes'?: (number | string);
  'network_rx_bytes'?: (number | string);
  'network_tx_bytes'?: (number | string);
  'block_read_bytes'?: (number | string);
  'block_write_bytes'?: (number | string);
  /**
   * RFC 3339, when the engine took the sample.
   */
  'at'?: (string);
  /**
   * Set when ok is false because the run is not running (the origin answers 409, not 502).
   */
  'not_running'?: (boolean);
  'auth'?: (_Auth | null);
}

export interface RunStatsResponse__Output {
  /**
   * A sample, or why not (error): not running, or not a run the caller placed.
   */
  'ok': (boolean);
  'error': (string);
  /**
   * Percent of one core × cores (Docker's convention: 200 = two full cores).
   */
  'cpu_percent': (number);
  'memory_bytes': (number);
  'memory_limit_bytes': (number);
  'network_rx_bytes': (number);
  'network_tx_bytes': (number);
  'block_read_bytes': (number);
  'block_write_bytes': (number);
  /**
   * RFC 3339, when the engine took the sample.
   */
  'at': (string);
  /**
   * Set when ok is false because the run is not running (the origin answers 409, not 502).
   */
  'not_running': (boolean);
  'auth': (_Auth__Output | null);
}
