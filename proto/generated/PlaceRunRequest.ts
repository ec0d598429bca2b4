// Original file: proto/peer.proto

import type { Auth as _Auth, Auth__Output as _Auth__Output } from './Auth.ts';
import type { Long } from '@grpc/proto-loader';

export interface PlaceRunRequest {
  'sender_id'?: (string);
  'image'?: (string);
  'command'?: (string)[];
  'cpu_milli'?: (number | string | Long);
  'memory'?: (number | string | Long);
  'gpu'?: (number);
  'env'?: ({[key: string]: string});
  'auth'?: (_Auth | null);
}

export interface PlaceRunRequest__Output {
  'sender_id': (string);
  'image': (string);
  'command': (string)[];
  'cpu_milli': (number);
  'memory': (number);
  'gpu': (number);
  'env': ({[key: string]: string});
  'auth': (_Auth__Output | null);
}
