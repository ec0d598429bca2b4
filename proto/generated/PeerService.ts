// Original file: proto/peer.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ExchangeRequest as _ExchangeRequest, ExchangeRequest__Output as _ExchangeRequest__Output } from './ExchangeRequest.ts';
import type { ExchangeResponse as _ExchangeResponse, ExchangeResponse__Output as _ExchangeResponse__Output } from './ExchangeResponse.ts';
import type { PlaceRunRequest as _PlaceRunRequest, PlaceRunRequest__Output as _PlaceRunRequest__Output } from './PlaceRunRequest.ts';
import type { PlaceRunResponse as _PlaceRunResponse, PlaceRunResponse__Output as _PlaceRunResponse__Output } from './PlaceRunResponse.ts';
import type { RunLogLine as _RunLogLine, RunLogLine__Output as _RunLogLine__Output } from './RunLogLine.ts';
import type { RunLogsRequest as _RunLogsRequest, RunLogsRequest__Output as _RunLogsRequest__Output } from './RunLogsRequest.ts';
import type { RunStatsRequest as _RunStatsRequest, RunStatsRequest__Output as _RunStatsRequest__Output } from './RunStatsRequest.ts';
import type { RunStatsResponse as _RunStatsResponse, RunStatsResponse__Output as _RunStatsResponse__Output } from './RunStatsResponse.ts';
import type { StopRunRequest as _StopRunRequest, StopRunRequest__Output as _StopRunRequest__Output } from './StopRunRequest.ts';
import type { StopRunResponse as _StopRunResponse, StopRunResponse__Output as _StopRunResponse__Output } from './StopRunResponse.ts';

export interface PeerServiceClient extends grpc.Client {
  /**
   * Push-pull anti-entropy: the caller sends digests (all members, or in large clusters a bounded
   * selection: freshest first) and entries that changed recently; the answer carries the entries
   * the caller lacks or has older, the answerer's digests, and the ids it still wants (which the
   * caller pushes in a second call, asking in turn for the ids it lacks).
   */
  ExchangePeers(argument: _ExchangeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  ExchangePeers(argument: _ExchangeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  ExchangePeers(argument: _ExchangeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  ExchangePeers(argument: _ExchangeRequest, callback: grpc.requestCallback<_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Push-pull anti-entropy: the caller sends digests (all members, or in large clusters a bounded
   * selection: freshest first) and entries that changed recently; the answer carries the entries
   * the caller lacks or has older, the answerer's digests, and the ids it still wants (which the
   * caller pushes in a second call, asking in turn for the ids it lacks).
   */
  exchangePeers(argument: _ExchangeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  exchangePeers(argument: _ExchangeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  exchangePeers(argument: _ExchangeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  exchangePeers(argument: _ExchangeRequest, callback: grpc.requestCallback<_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Phase 2: ask a peer to start a run that did not fit on the calling node.
   */
  PlaceRun(argument: _PlaceRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_PlaceRunResponse__Output>): grpc.ClientUnaryCall;
  PlaceRun(argument: _PlaceRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_PlaceRunResponse__Output>): grpc.ClientUnaryCall;
  PlaceRun(argument: _PlaceRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_PlaceRunResponse__Output>): grpc.ClientUnaryCall;
  PlaceRun(argument: _PlaceRunRequest, callback: grpc.requestCallback<_PlaceRunResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Phase 2: ask a peer to start a run that did not fit on the calling node.
   */
  placeRun(argument: _PlaceRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_PlaceRunResponse__Output>): grpc.ClientUnaryCall;
  placeRun(argument: _PlaceRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_PlaceRunResponse__Output>): grpc.ClientUnaryCall;
  placeRun(argument: _PlaceRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_PlaceRunResponse__Output>): grpc.ClientUnaryCall;
  placeRun(argument: _PlaceRunRequest, callback: grpc.requestCallback<_PlaceRunResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The log of a run the calling node placed here: the last `tail` lines, then (with follow) the
   * lines as they come, until the caller cancels. Refused for runs another node placed.
   */
  RunLogs(argument: _RunLogsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_RunLogLine__Output>;
  RunLogs(argument: _RunLogsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_RunLogLine__Output>;
  /**
   * The log of a run the calling node placed here: the last `tail` lines, then (with follow) the
   * lines as they come, until the caller cancels. Refused for runs another node placed.
   */
  runLogs(argument: _RunLogsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_RunLogLine__Output>;
  runLogs(argument: _RunLogsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_RunLogLine__Output>;
  
  /**
   * One resource-use sample of a run the calling node placed here. Refused for runs another node
   * placed.
   */
  RunStats(argument: _RunStatsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_RunStatsResponse__Output>): grpc.ClientUnaryCall;
  RunStats(argument: _RunStatsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_RunStatsResponse__Output>): grpc.ClientUnaryCall;
  RunStats(argument: _RunStatsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_RunStatsResponse__Output>): grpc.ClientUnaryCall;
  RunStats(argument: _RunStatsRequest, callback: grpc.requestCallback<_RunStatsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * One resource-use sample of a run the calling node placed here. Refused for runs another node
   * placed.
   */
  runStats(argument: _RunStatsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_RunStatsResponse__Output>): grpc.ClientUnaryCall;
  runStats(argument: _RunStatsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_RunStatsResponse__Output>): grpc.ClientUnaryCall;
  runStats(argument: _RunStatsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_RunStatsResponse__Output>): grpc.ClientUnaryCall;
  runStats(argument: _RunStatsRequest, callback: grpc.requestCallback<_RunStatsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Stop (and with remove, delete) a run the calling node placed here earlier: the origin keeps
   * control of what it placed. Refused for runs another node placed.
   */
  StopRun(argument: _StopRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_StopRunResponse__Output>): grpc.ClientUnaryCall;
  StopRun(argument: _StopRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_StopRunResponse__Output>): grpc.ClientUnaryCall;
  StopRun(argument: _StopRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_StopRunResponse__Output>): grpc.ClientUnaryCall;
  StopRun(argument: _StopRunRequest, callback: grpc.requestCallback<_StopRunResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Stop (and with remove, delete) a run the calling node placed here earlier: the origin keeps
   * control of what it placed. Refused for runs another node placed.
   */
  stopRun(argument: _StopRunRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_StopRunResponse__Output>): grpc.ClientUnaryCall;
  stopRun(argument: _StopRunRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_StopRunResponse__Output>): grpc.ClientUnaryCall;
  stopRun(argument: _StopRunRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_StopRunResponse__Output>): grpc.ClientUnaryCall;
  stopRun(argument: _StopRunRequest, callback: grpc.requestCallback<_StopRunResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface PeerServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Push-pull anti-entropy: the caller sends digests (all members, or in large clusters a bounded
   * selection: freshest first) and entries that changed recently; the answer carries the entries
   * the caller lacks or has older, the answerer's digests, and the ids it still wants (which the
   * caller pushes in a second call, asking in turn for the ids it lacks).
   */
  ExchangePeers: grpc.handleUnaryCall<_ExchangeRequest__Output, _ExchangeResponse>;
  
  /**
   * Phase 2: ask a peer to start a run that did not fit on the calling node.
   */
  PlaceRun: grpc.handleUnaryCall<_PlaceRunRequest__Output, _PlaceRunResponse>;
  
  /**
   * The log of a run the calling node placed here: the last `tail` lines, then (with follow) the
   * lines as they come, until the caller cancels. Refused for runs another node placed.
   */
  RunLogs: grpc.handleServerStreamingCall<_RunLogsRequest__Output, _RunLogLine>;
  
  /**
   * One resource-use sample of a run the calling node placed here. Refused for runs another node
   * placed.
   */
  RunStats: grpc.handleUnaryCall<_RunStatsRequest__Output, _RunStatsResponse>;
  
  /**
   * Stop (and with remove, delete) a run the calling node placed here earlier: the origin keeps
   * control of what it placed. Refused for runs another node placed.
   */
  StopRun: grpc.handleUnaryCall<_StopRunRequest__Output, _StopRunResponse>;
  
}

export interface PeerServiceDefinition extends grpc.ServiceDefinition {
  ExchangePeers: MethodDefinition<_ExchangeRequest, _ExchangeResponse, _ExchangeRequest__Output, _ExchangeResponse__Output>
  PlaceRun: MethodDefinition<_PlaceRunRequest, _PlaceRunResponse, _PlaceRunRequest__Output, _PlaceRunResponse__Output>
  RunLogs: MethodDefinition<_RunLogsRequest, _RunLogLine, _RunLogsRequest__Output, _RunLogLine__Output>
  RunStats: MethodDefinition<_RunStatsRequest, _RunStatsResponse, _RunStatsRequest__Output, _RunStatsResponse__Output>
  StopRun: MethodDefinition<_StopRunRequest, _StopRunResponse, _StopRunRequest__Output, _StopRunResponse__Output>
}
