/**
 * Resource URLs: which ones are accepted per type, their normal form, and the address a
 * connection is pinned to.
 *
 *   docker       unix:///absolute/path.sock    tcp://host:port    https://host:port (TLS)
 *   vm           ssh://[user@]host[:port]
 *   kubernetes   https://host[:port]           http://host:port only when host is loopback (test servers)
 *
 * Hosts go through the WHATWG host parser even for schemes it treats as opaque (tcp:, ssh:), so
 * `tcp://0251.0376.0251.0376:2375` is seen as the 169.254.169.254 it is; then the AddressPolicy
 * checks the literal, or every address the name resolves to. Connections use the checked address
 * (the URL's host replaced by it) with the original name as TLS servername.
 */
import ipaddr from 'ipaddr.js';
import { type AddressPolicy, AddressRefusedError, AddressUnresolvedError } from '../address-policy.ts';
import type { ResourceType } from './types.ts';

export const URL_MAX = 2048;
/** sun_path holds 108 bytes including the terminating NUL. */
const SOCKET_PATH_MAX = 107;

/** A URL the rules refuse; the message is safe to show (it names only what the client sent). */
export class ResourceUrlError extends Error {
  override name = 'ResourceUrlError';
}

export type ResourceEndpoint =
  | { scheme: 'unix'; path: string; url: string }
  | {
      scheme: 'tcp' | 'https' | 'http' | 'ssh';
      /** Canonical host: lower-case name (punycode) or IP literal without brackets. */
      host: string;
      port: number;
      /** Whether the URL named the port (else it is the scheme's default). */
      explicitPort: boolean;
      /** ssh:// user name from the URL. */
      user?: string;
      /** Normal form of the URL, what is stored and shown. */
      url: string;
      tls: boolean;
      isIp: boolean;
    };

const SCHEMES: Record<ResourceType, readonly string[]> = {
  docker: ['unix', 'tcp', 'https'],
  vm: ['ssh'],
  kubernetes: ['https', 'http'],
};

const EXAMPLES: Record<ResourceType, string> = {
  docker: 'unix:///var/run/docker.sock, tcp://host:2375 or https://host:2376',
  vm: 'ssh://user@host:22',
  kubernetes: 'https://host:6443',
};

/** Controls, spaces and backslashes (which special-scheme parsers read as "/"). */
const FORBIDDEN_CHARS = /[\p{Cc}\p{Z}\\]/u;
const SOCKET_PATH = /^(?:\/[A-Za-z0-9._+@=-]+)+$/;
const SSH_USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const DNS_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*$/;

/** Parse and check a URL for a resource of `type`. Throws ResourceUrlError naming the problem. */
export function parseResourceUrl(type: ResourceType, raw: string): ResourceEndpoint {
  if (raw.length === 0) throw new ResourceUrlError('is required');
  if (raw.length > URL_MAX) throw new ResourceUrlError(`must be at most ${URL_MAX} characters`);
  if (FORBIDDEN_CHARS.test(raw)) {
    throw new ResourceUrlError('must not contain spaces, control characters or backslashes');
  }
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw);
  const scheme = schemeMatch?.[1]?.toLowerCase();
  const allowed = SCHEMES[type];
  if (!scheme || !allowed.includes(scheme)) {
    throw new ResourceUrlError(`a ${type} resource URL must look like ${EXAMPLES[type]}`);
  }
  if (raw.includes('?') || raw.includes('#')) {
    throw new ResourceUrlError('must not have a query or fragment');
  }
  if (scheme === 'unix') return parseUnix(raw);

  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ResourceUrlError(`is not a valid URL; expected e.g. ${EXAMPLES[type]}`);
  }
  if (!raw.slice(scheme.length + 1).startsWith('//')) {
    throw new ResourceUrlError(`expected ${scheme}://host:port`);
  }
  if (url.password) {
    throw new ResourceUrlError('must not contain a password; put credentials in the credential fields');
  }
  if (url.username && scheme !== 'ssh') {
    throw new ResourceUrlError('must not contain a user name; put credentials in the credential fields');
  }
  if (url.pathname !== '' && url.pathname !== '/') throw new ResourceUrlError('must not have a path');

  const host = canonicalHost(url.hostname);
  const isIp = ipaddr.isValid(host);

  let port: number;
  let explicitPort = true;
  if (url.port !== '') {
    port = Number(url.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ResourceUrlError('port must be between 1 and 65535');
    }
  } else if (scheme === 'https' && type === 'kubernetes') {
    port = 443;
    explicitPort = /:443\/?$/.test(raw);
  } else if (scheme === 'ssh') {
    port = 22;
    explicitPort = false;
  } else if (scheme === 'https' && /:443\/?$/.test(raw)) {
    // The URL parser hides a scheme's default port; the client did write it.
    port = 443;
  } else {
    throw new ResourceUrlError(`needs a port, e.g. ${EXAMPLES[type]}`);
  }

  let user: string | undefined;
  if (url.username) {
    user = decodeURIComponent(url.username);
    if (!SSH_USER.test(user)) throw new ResourceUrlError('has an invalid user name');
  }

  if (scheme === 'http') {
    // Plain HTTP would send a bearer token in the clear; only loopback test servers may use it.
    if (!(host === 'localhost' || (isIp && ipaddr.parse(host).range() === 'loopback'))) {
      throw new ResourceUrlError('http:// is only allowed for loopback addresses; use https://');
    }
  }

  const shownHost = isIp && host.includes(':') ? `[${host}]` : host;
  const showPort = !(scheme === 'https' && port === 443);
  const normal = `${scheme}://${user ? `${user}@` : ''}${shownHost}${showPort ? `:${port}` : ''}`;
  return {
    scheme: scheme as 'tcp' | 'https' | 'http' | 'ssh',
    host,
    port,
    explicitPort,
    ...(user ? { user } : {}),
    url: normal,
    tls: scheme === 'https',
    isIp,
  };
}

function parseUnix(raw: string): ResourceEndpoint {
  if (!raw.toLowerCase().startsWith('unix:///')) {
    throw new ResourceUrlError('write a socket URL as unix:///absolute/path.sock');
  }
  const path = raw.slice('unix://'.length);
  if (!SOCKET_PATH.test(path)) {
    throw new ResourceUrlError('the socket path may use letters, digits and . _ + @ = - only');
  }
  if (path.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw new ResourceUrlError('the socket path must not contain "." or ".." segments');
  }
  if (Buffer.byteLength(path) > SOCKET_PATH_MAX) {
    throw new ResourceUrlError(`the socket path must be at most ${SOCKET_PATH_MAX} bytes`);
  }
  return { scheme: 'unix', path, url: `unix://${path}` };
}

/**
 * The host as a special-scheme URL parser sees it: IPv4 in any base or short form becomes
 * dotted decimal, names are lower-cased and punycoded, percent-escapes decoded.
 */
function canonicalHost(hostname: string): string {
  if (!hostname) throw new ResourceUrlError('has no host');
  let host: string;
  try {
    host = new URL(`http://${hostname}/`).hostname;
  } catch {
    throw new ResourceUrlError('has an invalid host');
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (ipaddr.isValid(host)) return host;
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (!DNS_NAME.test(host)) throw new ResourceUrlError('has an invalid host name');
  return host;
}

export interface CheckedAddress {
  /** The address to connect to. */
  address: string;
  /** Every address the host stood for, all checked. */
  all: string[];
}

/**
 * Check the endpoint's host with the policy: an IP literal at once, a name by resolving it.
 * Throws AddressRefusedError (or its AddressUnresolvedError) with a message safe to show.
 */
export async function checkAddress(
  endpoint: ResourceEndpoint,
  policy: AddressPolicy,
  timeoutMs: number,
): Promise<CheckedAddress | undefined> {
  if (endpoint.scheme === 'unix') return undefined;
  const all = await policy.resolve(endpoint.host, { timeoutMs });
  if (endpoint.scheme === 'http' && !all.every((a) => ipaddr.process(a).range() === 'loopback')) {
    throw new AddressRefusedError(`${endpoint.host} does not resolve to a loopback address`);
  }
  // Prefer IPv4: docker-modem and some engines handle a bracketed IPv6 host poorly.
  const address = all.find((a) => ipaddr.parse(a).kind() === 'ipv4') ?? all[0]!;
  return { address, all };
}

/** The endpoint's URL with its host replaced by the checked address. */
export function pinnedUrl(endpoint: ResourceEndpoint, address: string | undefined): string {
  if (endpoint.scheme === 'unix' || address === undefined) return endpoint.url;
  const host = address.includes(':') ? `[${address}]` : address;
  const user = endpoint.user ? `${endpoint.user}@` : '';
  return `${endpoint.scheme}://${user}${host}:${endpoint.port}`;
}

export { AddressRefusedError, AddressUnresolvedError };
