// Original file: proto/peer.proto

import type { Long } from '@grpc/proto-loader';

/**
 * HMAC-SHA256 (cluster secret) over the message without this field, the timestamp, the nonce
 * and, in answers, the request's nonce.
 */
export interface Auth {
  'timestamp_ms'?: (number | string | Long);
  'nonce'?: (Buffer | Uint8Array | string);
  'hmac'?: (Buffer | Uint8Array | string);
}

/**
 * HMAC-SHA256 (cluster secret) over the message without this field, the timestamp, the nonce
 * and, in answers, the request's nonce.
 */
export interface Auth__Output {
  'timestamp_ms': (number);
  'nonce': (Buffer);
  'hmac': (Buffer);
}
