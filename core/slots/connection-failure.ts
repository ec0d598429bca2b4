/**
 * Why a connection to an engine failed, in a few generic words that are safe to show (no
 * addresses, no paths): the Node and Bun error codes every runner meets on TCP, DNS and TLS.
 * Runner plugins add what is particular to their engine (a socket path, a wrong protocol).
 */
const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ConnectionRefused: 'connection refused', // Bun's spelling
  FailedToOpenSocket: 'connection refused', // Bun's spelling
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ECONNABORTED: 'connection reset',
  ERR_STREAM_PREMATURE_CLOSE: 'connection reset',
  ETIMEDOUT: 'timed out',
  ESOCKETTIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network unreachable',
  ENOTFOUND: 'name not resolved',
  EAI_AGAIN: 'name not resolved',
  EAI_NONAME: 'name not resolved',
  EPROTO: 'TLS handshake failed',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate rejected',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate rejected',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate rejected',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate rejected',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS certificate rejected',
  CERT_HAS_EXPIRED: 'TLS certificate rejected',
  CERT_NOT_YET_VALID: 'TLS certificate rejected',
  CERT_SIGNATURE_FAILURE: 'TLS certificate rejected',
};

/** The kind of network failure an error code names; undefined for any other code. */
export function networkFailureKind(code: string): string | undefined {
  const kind = NETWORK_CODES[code];
  if (kind) return kind;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'TLS handshake failed';
  return undefined;
}
