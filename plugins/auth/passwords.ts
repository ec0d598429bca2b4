/**
 * Password hashing with scrypt (memory-hard), through node:crypto so it runs on Node, Bun and Deno.
 * Format (PHC-like): `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt b64>$<hash b64>`, so the cost can be
 * raised later without breaking stored hashes; verification re-reads the parameters.
 */
import { Buffer } from 'node:buffer';
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  ln: number;
  r: number;
  p: number;
}

const KEY_LEN = 32;
const SALT_LEN = 16;
/** Parameters outside these bounds in a stored hash are refused instead of run (memory/CPU bomb). */
const MAX_LN = 20;
const MAX_R = 32;
const MAX_P = 16;
/**
 * At most this many hashes run at once: each takes 128·N·r bytes (64 MiB at the default), and a
 * burst of logins must not exhaust memory. Others wait their turn.
 */
const MAX_CONCURRENT = 2;

export function defaultParams(ln: number): ScryptParams {
  return { ln, r: 8, p: 2 };
}

let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function derive(password: string, salt: Buffer, params: ScryptParams, keyLen: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  return limited(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        scrypt(
          password.normalize('NFC'),
          salt,
          keyLen,
          // maxmem must exceed 128·N·r (Node's default of 32 MiB is too small for N=2^16).
          { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 },
          (err, key) => (err ? reject(err) : resolve(key)),
        );
      }),
  );
}

export async function hashPassword(password: string, params: ScryptParams): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await derive(password, salt, params, KEY_LEN);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

const HASH_FORMAT =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

export function parseHash(stored: string): ParsedHash | undefined {
  const m = HASH_FORMAT.exec(stored);
  if (!m) return undefined;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (
    params.ln < 1 ||
    params.ln > MAX_LN ||
    params.r < 1 ||
    params.r > MAX_R ||
    params.p < 1 ||
    params.p > MAX_P
  ) {
    return undefined;
  }
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || key.length < 16) return undefined;
  return { params, salt, key };
}

/** Constant-time comparison of the derived key; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.params, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}

/** True when the stored hash uses other parameters than new hashes would (rehash after a good login). */
export function needsRehash(stored: string, params: ScryptParams): boolean {
  const parsed = parseHash(stored);
  return (
    !parsed ||
    parsed.params.ln !== params.ln ||
    parsed.params.r !== params.r ||
    parsed.params.p !== params.p ||
    parsed.key.length !== KEY_LEN
  );
}

/** A random password for the bootstrap admin: 144 bits, URL-safe, no ambiguous padding. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Password policy for new passwords (NIST 800-63B style: length, not composition rules). */
export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 256;
