/**
 * Validation of the addresses peers advertise: host:port with a real port, no link-local or cloud
 * metadata ranges (never), loopback only when allowed (it only makes sense when the cluster
 * itself runs on loopback — a remote peer claiming it would make us dial ourselves).
 */
import ipaddr from 'ipaddr.js';
import { AddressPolicy, AddressRefusedError } from '../../core/domain/address-policy.ts';
import { ADDRESS } from '../../core/kernel/config.ts';

const policy = new AddressPolicy();
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function splitHostPort(addr: string): { host: string; port: number } | undefined {
  const m = ADDRESS.exec(addr);
  if (!m) return undefined;
  const host = addr.slice(0, addr.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return { host, port: Number(m[1]) };
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (!ipaddr.isValid(host)) return false;
  const a = ipaddr.process(host);
  return a.range() === 'loopback';
}

/** Returns why `addr` may not be used as a peer address, or undefined when it may. */
export function checkPeerAddress(addr: string, opts: { allowLoopback: boolean }): string | undefined {
  if (typeof addr !== 'string' || addr.length > 300) return 'is not host:port';
  const hp = splitHostPort(addr);
  if (!hp?.host) return `${JSON.stringify(addr.slice(0, 80))} is not host:port`;
  if (hp.port < 1 || hp.port > 65535) return `${addr} has no valid port`;
  if (ipaddr.isValid(hp.host)) {
    try {
      policy.checkIp(hp.host);
    } catch (e) {
      if (e instanceof AddressRefusedError) return e.message;
      throw e;
    }
  } else if (!HOSTNAME.test(hp.host)) {
    return `${JSON.stringify(hp.host.slice(0, 80))} is not a host name`;
  }
  if (!opts.allowLoopback && isLoopbackHost(hp.host))
    return `${addr} is a loopback address (allow_loopback is off)`;
  return undefined;
}
