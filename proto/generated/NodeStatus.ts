// Original file: proto/peer.proto

export const NodeStatus = {
  NODE_STATUS_UNSPECIFIED: 'NODE_STATUS_UNSPECIFIED',
  ALIVE: 'ALIVE',
  SUSPECT: 'SUSPECT',
  DEAD: 'DEAD',
  LEFT: 'LEFT',
} as const;

export type NodeStatus =
  | 'NODE_STATUS_UNSPECIFIED'
  | 0
  | 'ALIVE'
  | 1
  | 'SUSPECT'
  | 2
  | 'DEAD'
  | 3
  | 'LEFT'
  | 4

export type NodeStatus__Output = typeof NodeStatus[keyof typeof NodeStatus]
