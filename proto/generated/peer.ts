import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Auth as _Auth, Auth__Output as _Auth__Output } from './Auth.ts';
import type { ExchangeRequest as _ExchangeRequest, ExchangeRequest__Output as _ExchangeRequest__Output } from './ExchangeRequest.ts';
import type { ExchangeResponse as _ExchangeResponse, ExchangeResponse__Output as _ExchangeResponse__Output } from './ExchangeResponse.ts';
import type { NodeDigest as _NodeDigest, NodeDigest__Output as _NodeDigest__Output } from './NodeDigest.ts';
import type { NodeState as _NodeState, NodeState__Output as _NodeState__Output } from './NodeState.ts';
import type { PeerServiceClient as _PeerServiceClient, PeerServiceDefinition as _PeerServiceDefinition } from './PeerService.ts';
import type { PlaceRunRequest as _PlaceRunRequest, PlaceRunRequest__Output as _PlaceRunRequest__Output } from './PlaceRunRequest.ts';
import type { PlaceRunResponse as _PlaceRunResponse, PlaceRunResponse__Output as _PlaceRunResponse__Output } from './PlaceRunResponse.ts';
import type { ResourceAmounts as _ResourceAmounts, ResourceAmounts__Output as _ResourceAmounts__Output } from './ResourceAmounts.ts';
import type { ResourceSummary as _ResourceSummary, ResourceSummary__Output as _ResourceSummary__Output } from './ResourceSummary.ts';
import type { RunLogLine as _RunLogLine, RunLogLine__Output as _RunLogLine__Output } from './RunLogLine.ts';
import type { RunLogsRequest as _RunLogsRequest, RunLogsRequest__Output as _RunLogsRequest__Output } from './RunLogsRequest.ts';
import type { RunStatsRequest as _RunStatsRequest, RunStatsRequest__Output as _RunStatsRequest__Output } from './RunStatsRequest.ts';
import type { RunStatsResponse as _RunStatsResponse, RunStatsResponse__Output as _RunStatsResponse__Output } from './RunStatsResponse.ts';
import type { StopRunRequest as _StopRunRequest, StopRunRequest__Output as _StopRunRequest__Output } from './StopRunRequest.ts';
import type { StopRunResponse as _StopRunResponse, StopRunResponse__Output as _StopRunResponse__Output } from './StopRunResponse.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  Auth: MessageTypeDefinition<_Auth, _Auth__Output>
  ExchangeRequest: MessageTypeDefinition<_ExchangeRequest, _ExchangeRequest__Output>
  ExchangeResponse: MessageTypeDefinition<_ExchangeResponse, _ExchangeResponse__Output>
  NodeDigest: MessageTypeDefinition<_NodeDigest, _NodeDigest__Output>
  NodeState: MessageTypeDefinition<_NodeState, _NodeState__Output>
  NodeStatus: EnumTypeDefinition
  PeerService: SubtypeConstructor<typeof grpc.Client, _PeerServiceClient> & { service: _PeerServiceDefinition }
  PlaceRunRequest: MessageTypeDefinition<_PlaceRunRequest, _PlaceRunRequest__Output>
  PlaceRunResponse: MessageTypeDefinition<_PlaceRunResponse, _PlaceRunResponse__Output>
  ResourceAmounts: MessageTypeDefinition<_ResourceAmounts, _ResourceAmounts__Output>
  ResourceSummary: MessageTypeDefinition<_ResourceSummary, _ResourceSummary__Output>
  RunLogLine: MessageTypeDefinition<_RunLogLine, _RunLogLine__Output>
  RunLogsRequest: MessageTypeDefinition<_RunLogsRequest, _RunLogsRequest__Output>
  RunStatsRequest: MessageTypeDefinition<_RunStatsRequest, _RunStatsRequest__Output>
  RunStatsResponse: MessageTypeDefinition<_RunStatsResponse, _RunStatsResponse__Output>
  StopRunRequest: MessageTypeDefinition<_StopRunRequest, _StopRunRequest__Output>
  StopRunResponse: MessageTypeDefinition<_StopRunResponse, _StopRunResponse__Output>
}

