// Original file: proto/peer.proto


export interface RunLogLine {
  /**
   * stdout or stderr.
   */
  'stream'?: (string);
  /**
   * RFC 3339, from the engine.
   */
  'timestamp'?: (string);
  'message'?: (string);
}

export interface RunLogLine__Output {
  /**
   * stdout or stderr.
   */
  'stream': (string);
  /**
   * RFC 3339, from the engine.
   */
  'timestamp': (string);
  'message': (string);
}
