// Original file: proto/peer.proto

import type { Long } from '@grpc/proto-loader';

export interface ResourceAmounts {
  /**
   * cores
   */
  'cpu'?: (number | string);
  /**
   * bytes
   */
  'memory'?: (number | string | Long);
  /**
   * cards
   */
  'gpu'?: (number);
}

export interface ResourceAmounts__Output {
  /**
   * cores
   */
  'cpu': (number);
  /**
   * bytes
   */
  'memory': (number);
  /**
   * cards
   */
  'gpu': (number);
}
