/** The auth plugin's building blocks, without a server: config, password hashes, API tokens, JWTs, limiter. */
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { authConfigSchema, parseDuration } from '../../plugins/auth/config.ts';
import { loadOrCreateSecret, SECRET_FILE, signSession, verifySession } from '../../plugins/auth/jwt.ts';
import {
  defaultParams,
  hashPassword,
  needsRehash,
  parseHash,
  verifyPassword,
} from '../../plugins/auth/passwords.ts';
import { SlidingWindowLimiter } from '../../plugins/auth/rate-limit.ts';
import { newApiToken, parseApiToken, secretMatches } from '../../plugins/auth/tokens.ts';

const FAST = defaultParams(10);

describe('auth config', () => {
  it('has safe defaults', () => {
    const c = v.parse(authConfigSchema, {});
    expect(c).toMatchObject({
      token_ttl: 3600,
      issuer: 'iarnet',
      audience: 'iarnet-api',
      login_rate_limit: 10,
      trust_proxy: false,
      scrypt_log_n: 16,
    });
    expect(c.jwt_secret).toBeUndefined();
  });

  it('accepts env-style strings and durations', () => {
    const c = v.parse(authConfigSchema, { token_ttl: '1h', login_rate_limit: '5', trust_proxy: 'true' });
    expect(c).toMatchObject({ token_ttl: 3600, login_rate_limit: 5, trust_proxy: true });
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('7d')).toBe(604_800);
    expect(parseDuration('1.5h')).toBeUndefined();
  });

  it('refuses short secrets, absurd TTLs and unknown keys', () => {
    expect(v.safeParse(authConfigSchema, { jwt_secret: 'x'.repeat(31) }).success).toBe(false);
    expect(v.safeParse(authConfigSchema, { jwt_secret: 'x'.repeat(32) }).success).toBe(true);
    expect(v.safeParse(authConfigSchema, { token_ttl: 0 }).success).toBe(false);
    expect(v.safeParse(authConfigSchema, { token_ttl: '10y' }).success).toBe(false);
    expect(v.safeParse(authConfigSchema, { login_rate_limit: -1 }).success).toBe(false);
    expect(v.safeParse(authConfigSchema, { jwt_secrte: 'x'.repeat(40) }).success).toBe(false);
  });
});

describe('password hashes', () => {
  it('are salted scrypt hashes that carry their parameters', async () => {
    const a = await hashPassword('correct horse battery', FAST);
    const b = await hashPassword('correct horse battery', FAST);
    expect(a).toMatch(/^\$scrypt\$ln=10,r=8,p=2\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(parseHash(a)?.params).toEqual(FAST);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  it('verify with the stored parameters and flag old ones for rehashing', async () => {
    const old = await hashPassword('pw-with-old-params', defaultParams(11));
    expect(await verifyPassword('pw-with-old-params', old)).toBe(true);
    expect(needsRehash(old, FAST)).toBe(true);
    expect(needsRehash(await hashPassword('x', FAST), FAST)).toBe(false);
  });

  it('never match a malformed or out-of-bounds stored hash', async () => {
    expect(await verifyPassword('x', 'plaintext')).toBe(false);
    expect(await verifyPassword('x', '$scrypt$ln=40,r=8,p=1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==')).toBe(
      false,
    );
    expect(parseHash('$scrypt$ln=10,r=8,p=1$$')).toBeUndefined();
  });
});

describe('API tokens', () => {
  it('have the iat_<id>_<secret> shape and are checked against the stored hash only', () => {
    const t = newApiToken();
    expect(t.token).toMatch(/^iat_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(t.secretHash).not.toContain(t.secret);
    expect(parseApiToken(t.token)).toEqual({ id: t.id, secret: t.secret });
    expect(secretMatches(t.secret, t.secretHash)).toBe(true);
    const flipped = `${t.secret.slice(0, -1)}${t.secret.endsWith('A') ? 'B' : 'A'}`;
    expect(secretMatches(flipped, t.secretHash)).toBe(false);
    expect(parseApiToken('iat_nothex_secret')).toBeUndefined();
    expect(parseApiToken(`${t.token}x`)).toBeUndefined();
  });
});

describe('JWT secret and sessions', () => {
  it('generates the secret once, mode 0600, and reuses it', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'iarnet-auth-secret-')), 'nested');
    const first = loadOrCreateSecret(undefined, dir);
    expect(first.source).toBe('generated');
    const path = join(dir, SECRET_FILE);
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(new TextEncoder().encode(first.secret).byteLength).toBeGreaterThanOrEqual(32);
    const second = loadOrCreateSecret(undefined, dir);
    expect(second).toMatchObject({ source: 'file', secret: first.secret });
    expect(readFileSync(path, 'utf8').trim()).toBe(first.secret);
  });

  it('prefers the configured secret and refuses a short secret file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iarnet-auth-secret-'));
    expect(loadOrCreateSecret('s'.repeat(40), dir)).toEqual({ secret: 's'.repeat(40), source: 'config' });
    writeFileSync(join(dir, SECRET_FILE), 'short\n', { mode: 0o600 });
    expect(() => loadOrCreateSecret(undefined, dir)).toThrow(/fewer than 32 bytes/);
  });

  const settings = { secret: 'k'.repeat(48), issuer: 'iarnet', audience: 'iarnet-api', ttlSeconds: 60 };
  const user = { id: 'u1', tokenVersion: 3, username: 'alice', role: 'viewer' as const };

  it('round-trips a session and honours the TTL', async () => {
    const now = Date.now();
    const { token, expiresAt } = await signSession(settings, user, now);
    expect(expiresAt.getTime()).toBe(Math.floor(now / 1000) * 1000 + 60_000);
    expect(await verifySession(settings, token, now)).toMatchObject({ sub: 'u1', ver: 3 });
    await expect(verifySession(settings, token, now + 61_000)).rejects.toThrow(/expired/);
    await expect(verifySession({ ...settings, secret: 'j'.repeat(48) }, token, now)).rejects.toThrow(
      /invalid/,
    );
  });

  it('refuses a token whose signature covers a different header (alg switched after signing)', async () => {
    const { token } = await signSession(settings, user);
    const [, payload, sig] = token.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'HS384', typ: 'JWT' })).toString('base64url');
    await expect(verifySession(settings, `${header}.${payload}.${sig}`)).rejects.toThrow(/invalid/);
    const resigned = createHmac('sha384', settings.secret).update(`${header}.${payload}`).digest('base64url');
    await expect(verifySession(settings, `${header}.${payload}.${resigned}`)).rejects.toThrow(/invalid/);
  });
});

describe('login rate limiter', () => {
  it('allows `limit` hits per window per key and says when to retry', () => {
    let now = 1_000_000;
    const limiter = new SlidingWindowLimiter({ limit: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 3; i++) expect(limiter.hit('a').allowed).toBe(true);
    const refused = limiter.hit('a');
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfter).toBe(60);
    expect(limiter.hit('b').allowed).toBe(true);
    now += 30_000;
    expect(limiter.hit('a')).toEqual({ allowed: false, retryAfter: 30 });
    now += 30_001;
    expect(limiter.hit('a').allowed).toBe(true);
    limiter.reset('a');
    for (let i = 0; i < 3; i++) expect(limiter.hit('a').allowed).toBe(true);
  });

  it('keeps memory bounded', () => {
    const limiter = new SlidingWindowLimiter({ limit: 1, windowMs: 60_000, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) limiter.hit(`k${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
  });
});
