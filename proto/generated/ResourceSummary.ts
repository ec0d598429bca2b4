// Original file: proto/peer.proto

import type { ResourceAmounts as _ResourceAmounts, ResourceAmounts__Output as _ResourceAmounts__Output } from './ResourceAmounts.ts';

export interface ResourceSummary {
  'limits'?: (_ResourceAmounts | null);
  'current'?: (_ResourceAmounts | null);
  'available'?: (_ResourceAmounts | null);
  'resource_count'?: (number);
}

export interface ResourceSummary__Output {
  'limits': (_ResourceAmounts__Output | null);
  'current': (_ResourceAmounts__Output | null);
  'available': (_ResourceAmounts__Output | null);
  'resource_count': (number);
}
