/**
 * API tokens: `iat_<id>_<secret>`. The id is public (lists, revocation); the 256-bit secret is
 * shown once and stored only as its SHA-256 — a slow KDF adds nothing for random secrets of
 * this size, and a fast hash keeps per-request authentication cheap.
 */
import { Buffer } from 'node:buffer';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'iat_';
const TOKEN_FORMAT = /^iat_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function newApiToken(): { id: string; secret: string; token: string; secretHash: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `${TOKEN_PREFIX}${id}_${secret}`, secretHash: hashSecret(secret) };
}

export function isApiTokenShaped(bearer: string): boolean {
  return bearer.startsWith(TOKEN_PREFIX);
}

export function parseApiToken(bearer: string): { id: string; secret: string } | undefined {
  const m = TOKEN_FORMAT.exec(bearer);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
