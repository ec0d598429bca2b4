/**
 * Login JWTs per RFC 8725: the server alone picks the algorithm (HS256); `typ`, `iss`, `aud`,
 * `exp`, `iat` and `nbf` are required and checked. The key comes from config/env or is generated
 * once into the data directory with mode 0600 — there is no built-in default.
 */

import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sign, verify } from 'hono/jwt';
import type { Role } from '../../core/slots/auth.ts';
import { MIN_SECRET_BYTES } from './config.ts';

export const JWT_ALG = 'HS256';
export const JWT_TYP = 'JWT';
/** Longer bearer values are refused before any parsing. */
const MAX_TOKEN_LENGTH = 4096;
/** Seconds of clock difference tolerated for `iat`/`nbf` (tokens are only made by this server). */
const LEEWAY = 5;

export const SECRET_FILE = 'jwt.secret';

export interface SecretSource {
  secret: string;
  /** Where it came from, for the log (never the value). */
  source: 'config' | 'file' | 'generated';
  path?: string;
}

/**
 * The configured secret, or the one in `<dataDir>/jwt.secret`, or a new random one written there
 * with mode 0600. `wx` makes the write fail if another process created the file meanwhile; then
 * that file is read instead, so every process ends up with the same key.
 */
export function loadOrCreateSecret(configured: string | undefined, dataDir: string): SecretSource {
  if (configured !== undefined) return { secret: configured, source: 'config' };
  const path = join(dataDir, SECRET_FILE);
  const existing = readSecretFile(path);
  if (existing !== undefined) return { secret: existing, source: 'file', path };
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  try {
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const raced = readSecretFile(path);
    if (raced === undefined) throw new Error(`${path} appeared while creating it but cannot be read`);
    return { secret: raced, source: 'file', path };
  }
  // The umask may have cleared bits only; chmod makes the mode exact on every runtime.
  chmodSync(path, 0o600);
  return { secret, source: 'generated', path };
}

function readSecretFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the JWT secret file ${path}: ${(e as Error).message}`);
  }
  const secret = text.trim();
  if (new TextEncoder().encode(secret).byteLength < MIN_SECRET_BYTES) {
    throw new Error(
      `the JWT secret file ${path} holds fewer than ${MIN_SECRET_BYTES} bytes; delete it to have a new one generated`,
    );
  }
  return secret;
}

/** True when group or others may read the file (it should be 0600). */
export function secretFileTooOpen(path: string): boolean {
  if (process.platform === 'win32') return false;
  return (statSync(path).mode & 0o077) !== 0;
}

export interface JwtSettings {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface SessionClaims {
  /** User id. */
  sub: string;
  /** The user's token version when the token was made. */
  ver: number;
  exp: number;
}

export async function signSession(
  s: JwtSettings,
  user: { id: string; tokenVersion: number; username: string; role: Role },
  now = Date.now(),
): Promise<{ token: string; expiresAt: Date }> {
  const iat = Math.floor(now / 1000);
  const exp = iat + s.ttlSeconds;
  const token = await sign(
    {
      sub: user.id,
      ver: user.tokenVersion,
      // Informational only; authorization reads the role from the database on every request.
      name: user.username,
      role: user.role,
      iss: s.issuer,
      aud: s.audience,
      iat,
      nbf: iat,
      exp,
    },
    s.secret,
    JWT_ALG,
  );
  return { token, expiresAt: new Date(exp * 1000) };
}

export class InvalidToken extends Error {
  /** Safe to show the client: says what is wrong without echoing the token or the key. */
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidToken';
    this.reason = reason;
  }
}

const isNumericDate = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * Verify a session JWT. Every failure becomes {@link InvalidToken} with a short reason; the
 * library's own errors are dropped because their messages contain the token.
 */
export async function verifySession(s: JwtSettings, token: string, now = Date.now()): Promise<SessionClaims> {
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidToken('The token is too long to be one of ours');
  let payload: Record<string, unknown>;
  try {
    payload = (await verify(token, s.secret, {
      alg: JWT_ALG,
      typ: JWT_TYP,
      iss: s.issuer,
      aud: s.audience,
      // Checked below with the same clock and a small leeway.
      exp: false,
      nbf: false,
      iat: false,
    })) as Record<string, unknown>;
  } catch {
    throw new InvalidToken('The token is invalid (bad signature, algorithm, issuer, audience or format)');
  }
  const nowSec = Math.floor(now / 1000);
  const { sub, ver, exp, iat, nbf } = payload;
  if (!isNumericDate(exp) || !isNumericDate(iat) || !isNumericDate(nbf)) {
    throw new InvalidToken('The token lacks exp, iat or nbf');
  }
  if (exp <= nowSec) throw new InvalidToken('The token has expired; log in again');
  if (nbf > nowSec + LEEWAY || iat > nowSec + LEEWAY) throw new InvalidToken('The token is not valid yet');
  if (typeof sub !== 'string' || sub.length === 0 || typeof ver !== 'number' || !Number.isInteger(ver)) {
    throw new InvalidToken('The token is invalid (missing subject)');
  }
  return { sub, ver, exp };
}
