/**
 * Outbound address policy (SSRF defence) for every URL a user gives IARNet: resource endpoints,
 * Git remotes. Cloud metadata and link-local addresses are always refused; other ranges follow
 * the admin's allow/deny lists. Names are resolved and every resolved address is checked, in
 * every encoding (IPv4-mapped/-translated/-compatible IPv6, NAT64, 6to4, Teredo); callers connect to
 * the checked address.
 */
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Addr, number];

/** Never reachable through IARNet, whatever the policy says. */
const ALWAYS_REFUSED: [string, string][] = [
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['fe80::/10', 'link-local'],
  ['100.100.100.200/32', 'cloud metadata'],
  ['fd00:ec2::254/128', 'cloud metadata'],
  ['0.0.0.0/8', 'unspecified'],
  ['::/128', 'unspecified'],
  ['224.0.0.0/4', 'multicast'],
  ['ff00::/8', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
];

export class AddressRefusedError extends Error {
  override name = 'AddressRefusedError';
}

/** The name has no address (or the lookup took too long): nothing to check, nothing to connect to. */
export class AddressUnresolvedError extends AddressRefusedError {
  override name = 'AddressUnresolvedError';
}

export interface AddressPolicyConfig {
  /** CIDRs that are refused (besides the always-refused ones). */
  deny?: string[];
  /** When non-empty, only these CIDRs are allowed. */
  allow?: string[];
}

function parseCidr(text: string): Cidr {
  const [addr, bits] = ipaddr.parseCIDR(
    text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`,
  );
  return [addr, bits];
}

function inRange(addr: Addr, [range, bits]: Cidr): boolean {
  return addr.kind() === range.kind() && addr.match(range as never, bits);
}

/**
 * Every address `addr` stands for: itself plus any IPv4 address embedded in it that a
 * translator or tunnel may deliver to — IPv4-mapped (::ffff:a.b.c.d), IPv4-translated
 * (::ffff:0:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96 and 64:ff9b:1::/48),
 * 6to4 (2002:AABB:CCDD::) and Teredo (client address, inverted).
 */
function canonical(addr: Addr): Addr[] {
  if (addr.kind() === 'ipv4') return [addr];
  const v6 = addr as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return [v6.toIPv4Address()];
  const bytes = v6.toByteArray();
  const v4 = (at: number, xor = 0) => new ipaddr.IPv4(bytes.slice(at, at + 4).map((b) => (b ^ xor) & 0xff));
  switch (v6.range()) {
    case 'rfc6052':
    case 'rfc6145':
      return [v6, v4(12)];
    case '6to4':
      return [v6, v4(2)];
    case 'teredo':
      return [v6, v4(12, 0xff)];
  }
  // IPv4-compatible (deprecated, still routed by some stacks); :: and ::1 are themselves.
  if (bytes.slice(0, 12).every((b) => b === 0) && !(bytes[12] === 0 && bytes[13] === 0 && bytes[14] === 0)) {
    return [v6, v4(12)];
  }
  return [v6];
}

export class AddressPolicy {
  readonly #refused: [Cidr, string][];
  readonly #deny: Cidr[];
  readonly #allow: Cidr[];

  constructor(config: AddressPolicyConfig = {}) {
    this.#refused = ALWAYS_REFUSED.map(([c, why]) => [parseCidr(c), why]);
    this.#deny = (config.deny ?? []).map(parseCidr);
    this.#allow = (config.allow ?? []).map(parseCidr);
  }

  /** Throws AddressRefusedError with the reason when the IP literal may not be reached. */
  checkIp(ip: string): void {
    if (!ipaddr.isValid(ip)) throw new AddressRefusedError(`${ip} is not an IP address`);
    for (const addr of canonical(ipaddr.parse(ip))) {
      for (const [range, why] of this.#refused) {
        if (inRange(addr, range))
          throw new AddressRefusedError(`${ip} is a ${why} address, which IARNet never connects to`);
      }
      if (this.#deny.some((r) => inRange(addr, r)))
        throw new AddressRefusedError(`${ip} is in a range the administrator denied`);
      if (this.#allow.length && !this.#allow.some((r) => inRange(addr, r))) {
        throw new AddressRefusedError(`${ip} is outside the ranges the administrator allowed`);
      }
    }
  }

  /**
   * Resolve `host` and check every address. Returns the checked addresses; connect to one of
   * these (not to the name again) so a second DNS answer cannot swap in another target.
   * Throws AddressUnresolvedError (an AddressRefusedError) when the name does not resolve in
   * `timeoutMs`, AddressRefusedError when any address is refused.
   */
  async resolve(host: string, opts: { timeoutMs?: number } = {}): Promise<string[]> {
    const bare = host.replace(/^\[|\]$/g, '');
    if (ipaddr.isValid(bare)) {
      this.checkIp(bare);
      return [bare];
    }
    let answers: { address: string }[];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), opts.timeoutMs ?? 10_000);
      });
      answers = await Promise.race([lookup(bare, { all: true, verbatim: true }), timeout]);
    } catch {
      throw new AddressUnresolvedError(`${host} does not resolve`);
    } finally {
      clearTimeout(timer);
    }
    if (!answers.length) throw new AddressUnresolvedError(`${host} does not resolve`);
    for (const a of answers) this.checkIp(a.address);
    return answers.map((a) => a.address);
  }
}
