/**
 * The auth plugin in a real node (storage + auth, real SQLite in a temp dir), through HTTP
 * requests to the assembled app: login, JWT checks per RFC 8725, API tokens, roles, users.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createIarnet, type Iarnet } from '../../core/iarnet.ts';
import { loadConfig } from '../../core/kernel/config.ts';
import type { AnyPlugin } from '../../core/kernel/plugin.ts';
import { loadRuntime } from '../../core/runtime/index.ts';
import authPlugin from '../../plugins/auth/index.ts';
import { users } from '../../plugins/auth/schema.ts';
import storagePlugin from '../../plugins/storage/index.ts';

const SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
const ADMIN_PASSWORD = 'admin-password-for-tests';

interface TestNode {
  node: Iarnet;
  dataDir: string;
  logs: Record<string, unknown>[];
  rawLogs: string[];
  request(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
}

const nodes: TestNode[] = [];

async function startNode(
  opts: { auth?: Record<string, unknown>; env?: Record<string, string>; dataDir?: string } = {},
): Promise<TestNode> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'iarnet-auth-'));
  const base = await loadRuntime();
  const runtime = { ...base, env: () => ({ ...(opts.env ?? {}) }) };
  const rawLogs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void rawLogs.push(line) });
  const { core } = loadConfig({ overrides: { data_dir: dataDir } });
  const node = await createIarnet({
    core,
    sections: { auth: { scrypt_log_n: 10, ...opts.auth } },
    plugins: [storagePlugin, authPlugin] as AnyPlugin[],
    runtime,
    logger,
  });
  await node.start();
  const t: TestNode = {
    node,
    dataDir,
    rawLogs,
    get logs() {
      return rawLogs.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    request(method, path, { token, body, headers = {} } = {}) {
      return Promise.resolve(
        node.app.request(path, {
          method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...headers,
          },
          ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
        }),
      );
    },
  };
  nodes.push(t);
  return t;
}

afterAll(async () => {
  for (const t of nodes) await t.node.stop().catch(() => {});
});

async function login(t: TestNode, username: string, password: string): Promise<string> {
  const res = await t.request('POST', '/api/auth/login', { body: { username, password } });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

async function createUser(
  t: TestNode,
  admin: string,
  username: string,
  role: string,
  password = `${username}-password-1`,
) {
  const res = await t.request('POST', '/api/users', { token: admin, body: { username, password, role } });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { id: string; username: string; role: string };
}

// ------------------------------------------------------------------ JWT crafting for negative tests

const b64 = (x: unknown) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

function craft(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  opts: { secret?: string; hash?: 'sha256' | 'sha384' | 'sha512'; signature?: string } = {},
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature =
    opts.signature ??
    createHmac(opts.hash ?? 'sha256', opts.secret ?? SECRET)
      .update(input)
      .digest('base64url');
  return `${input}.${signature}`;
}

describe('admin bootstrap and secrets', () => {
  it('generates an admin password, logs it once at warn, and a 0600 JWT secret file', async () => {
    const t = await startNode();
    const warnings = t.logs.filter((l) => l.level === 40 && String(l.msg).includes('Password:'));
    expect(warnings).toHaveLength(1);
    const password = /Password: (\S+)/.exec(String(warnings[0]!.msg))![1]!;
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(t.rawLogs.filter((l) => l.includes(password))).toHaveLength(1);
    await login(t, 'admin', password);

    const secretPath = join(t.dataDir, 'jwt.secret');
    if (process.platform !== 'win32') expect(statSync(secretPath).mode & 0o777).toBe(0o600);

    // A restart on the same data dir creates nobody, prints nothing, and keeps the key (old tokens work).
    const token = await login(t, 'admin', password);
    await t.node.stop();
    const again = await startNode({ dataDir: t.dataDir });
    expect(again.rawLogs.some((l) => l.includes('Password:'))).toBe(false);
    expect((await again.request('GET', '/api/auth/me', { token })).status).toBe(200);
  });

  it('uses IARNET_ADMIN_PASSWORD and never logs it', async () => {
    const t = await startNode({ env: { IARNET_ADMIN_PASSWORD: ADMIN_PASSWORD } });
    expect(t.rawLogs.some((l) => l.includes(ADMIN_PASSWORD))).toBe(false);
    expect(t.rawLogs.some((l) => l.includes('Password:'))).toBe(false);
    await login(t, 'admin', ADMIN_PASSWORD);
  });

  it('stores scrypt hashes and upgrades their parameters at the next login', async () => {
    const env = { IARNET_ADMIN_PASSWORD: ADMIN_PASSWORD };
    const t = await startNode({ env });
    await t.node.stop();
    const storedHash = async () => {
      const db = await (await loadRuntime()).openSqlite(join(t.dataDir, 'iarnet.db'));
      try {
        return (await db.db.select().from(users))[0]!.passwordHash;
      } finally {
        db.close();
      }
    };
    expect(await storedHash()).toMatch(/^\$scrypt\$ln=10,r=8,p=2\$/);
    const stronger = await startNode({ env, dataDir: t.dataDir, auth: { scrypt_log_n: 11 } });
    await login(stronger, 'admin', ADMIN_PASSWORD);
    await stronger.node.stop();
    expect(await storedHash()).toMatch(/^\$scrypt\$ln=11,r=8,p=2\$/);
  });

  it('refuses a too-short IARNET_ADMIN_PASSWORD on first start', async () => {
    await expect(startNode({ env: { IARNET_ADMIN_PASSWORD: 'short' } })).rejects.toThrow(
      /IARNET_ADMIN_PASSWORD/,
    );
  });

  it('writes no secret file when the secret is configured; refuses a short one', async () => {
    const t = await startNode({
      auth: { jwt_secret: SECRET },
      env: { IARNET_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    expect(() => statSync(join(t.dataDir, 'jwt.secret'))).toThrow();
    await expect(startNode({ auth: { jwt_secret: 'too-short' } })).rejects.toThrow(/auth\.jwt_secret/);
  });
});

describe('with a running node', () => {
  let t: TestNode;
  let admin: string;

  beforeAll(async () => {
    t = await startNode({
      auth: { jwt_secret: SECRET, login_rate_limit: 5 },
      env: { IARNET_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    admin = await login(t, 'admin', ADMIN_PASSWORD);
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  describe('login', () => {
    it('returns a JWT, its expiry and the user', async () => {
      const res = await t.request('POST', '/api/auth/login', {
        body: { username: 'ADMIN', password: ADMIN_PASSWORD },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { token: string; expiresAt: string; user: Record<string, unknown> };
      expect(body.token.split('.')).toHaveLength(3);
      expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
      expect(body.user).toMatchObject({ username: 'admin', role: 'admin' });
      const header = JSON.parse(Buffer.from(body.token.split('.')[0]!, 'base64url').toString());
      expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
      const claims = JSON.parse(Buffer.from(body.token.split('.')[1]!, 'base64url').toString());
      expect(claims).toMatchObject({ iss: 'iarnet', aud: 'iarnet-api', sub: body.user.id });
      expect(claims.exp - claims.iat).toBe(3600);
      expect(claims.nbf).toBe(claims.iat);
    });

    it('gives the same 401 for a wrong password and an unknown user', async () => {
      const wrong = await t.request('POST', '/api/auth/login', {
        body: { username: 'admin', password: 'nope-nope-nope' },
      });
      const unknown = await t.request('POST', '/api/auth/login', {
        body: { username: 'ghost', password: 'nope-nope-nope' },
      });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      const strip = async (r: Response) => {
        const { requestId: _, ...rest } = (await r.json()) as Record<string, unknown>;
        return rest;
      };
      const [a, b] = [await strip(wrong), await strip(unknown)];
      expect(a).toEqual(b);
      expect(a).toMatchObject({ code: 'UNAUTHORIZED', details: 'Unknown username or wrong password' });
    });

    it('takes similar time for unknown users as for wrong passwords (dummy hash)', async () => {
      const time = async (username: string) => {
        const t0 = performance.now();
        await t.request('POST', '/api/auth/login', { body: { username, password: 'timing-check-pw' } });
        return performance.now() - t0;
      };
      // Each user gets its own rate-limit key; a few rounds smooth the noise.
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 3; i++) {
        known.push(await time('admin'));
        unknown.push(await time(`nobody-${i}`));
      }
      const median = (xs: number[]) => xs.sort((x, y) => x - y)[1]!;
      // A missing hash would make unknown users ~free; with it they cost the same order of time.
      expect(median(unknown)).toBeGreaterThan(median(known) / 4);
    });

    it('rate-limits per client and username with 429 and Retry-After', async () => {
      const attempt = (username: string) =>
        t.request('POST', '/api/auth/login', { body: { username, password: 'wrong-password-x' } });
      for (let i = 0; i < 5; i++) expect((await attempt('victim')).status).toBe(401);
      const limited = await attempt('victim');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
      // Other usernames are counted separately.
      expect((await attempt('someone-else')).status).toBe(401);
    });

    it('validates the body: 400 with fields, unknown keys refused', async () => {
      const res = await t.request('POST', '/api/auth/login', { body: { username: 'admin' } });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { code: string; fields: { path: string }[] };
      expect(body.code).toBe('VALIDATION_FAILED');
      expect(body.fields.map((f) => f.path)).toContain('password');
      const extra = await t.request('POST', '/api/auth/login', {
        body: { username: 'admin', password: ADMIN_PASSWORD, role: 'admin' },
      });
      expect(extra.status).toBe(400);
      expect((await t.request('POST', '/api/auth/login', { body: '{not json' })).status).toBe(400);
    });

    it('refuses disabled users (after the right password only)', async () => {
      const u = await createUser(t, admin, 'dora', 'operator');
      const session = await login(t, 'dora', 'dora-password-1');
      const patch = await t.request('PATCH', `/api/users/${u.id}`, {
        token: admin,
        body: { disabled: true },
      });
      expect(patch.status).toBe(200);
      const right = await t.request('POST', '/api/auth/login', {
        body: { username: 'dora', password: 'dora-password-1' },
      });
      expect(right.status).toBe(403);
      expect(await right.json()).toMatchObject({ code: 'ACCOUNT_DISABLED' });
      const wrong = await t.request('POST', '/api/auth/login', {
        body: { username: 'dora', password: 'dora-wrong-pw' },
      });
      expect(wrong.status).toBe(401);
      // An existing session stops working at once.
      expect((await t.request('GET', '/api/auth/me', { token: session })).status).toBe(401);
    });
  });

  describe('JWT verification (RFC 8725)', () => {
    const now = () => Math.floor(Date.now() / 1000);
    let adminId: string;
    const claims = (over: Record<string, unknown> = {}) => ({
      sub: adminId,
      ver: 0,
      iss: 'iarnet',
      aud: 'iarnet-api',
      iat: now(),
      nbf: now(),
      exp: now() + 600,
      ...over,
    });
    const HS256 = { alg: 'HS256', typ: 'JWT' };

    beforeAll(async () => {
      const me = await t.request('GET', '/api/auth/me', { token: admin });
      adminId = ((await me.json()) as { id: string }).id;
    });

    const expect401 = async (token: string, details?: RegExp) => {
      const res = await t.request('GET', '/api/auth/me', { token });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const text = await res.text();
      expect(text).not.toContain(token);
      if (details) expect((JSON.parse(text) as { details: string }).details).toMatch(details);
    };

    it('accepts a well-formed token (the crafting helper is right)', async () => {
      const res = await t.request('GET', '/api/auth/me', { token: craft(HS256, claims()) });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: adminId, name: 'admin', role: 'admin', kind: 'user' });
    });

    it('rejects alg none', async () => {
      await expect401(craft({ alg: 'none', typ: 'JWT' }, claims(), { signature: '' }));
      await expect401(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`);
    });

    it('rejects other algorithms, even signed with the same secret', async () => {
      await expect401(craft({ alg: 'HS512', typ: 'JWT' }, claims(), { hash: 'sha512' }));
      await expect401(craft({ alg: 'HS384', typ: 'JWT' }, claims(), { hash: 'sha384' }));
      // Key-confusion shape: an asymmetric alg with an HMAC signature.
      await expect401(craft({ alg: 'RS256', typ: 'JWT' }, claims()));
      await expect401(craft({ alg: 'ES256', typ: 'JWT' }, claims()));
    });

    it('rejects expired tokens with a helpful message', async () => {
      await expect401(
        craft(HS256, claims({ iat: now() - 7200, nbf: now() - 7200, exp: now() - 3600 })),
        /expired/,
      );
    });

    it('rejects a wrong audience or issuer', async () => {
      await expect401(craft(HS256, claims({ aud: 'someone-else' })));
      await expect401(craft(HS256, claims({ iss: 'evil' })));
      const { aud: _a, ...noAud } = claims();
      await expect401(craft(HS256, noAud));
    });

    it('rejects missing exp, iat or nbf', async () => {
      for (const key of ['exp', 'iat', 'nbf']) {
        const c: Record<string, unknown> = claims();
        delete c[key];
        await expect401(craft(HS256, c));
      }
    });

    it('rejects tokens from the future', async () => {
      await expect401(craft(HS256, claims({ nbf: now() + 600 })));
      await expect401(craft(HS256, claims({ iat: now() + 600 })));
    });

    it('rejects a tampered payload or signature, or another key', async () => {
      const good = craft(HS256, claims());
      const [h, , s] = good.split('.');
      await expect401(`${h}.${b64(claims({ sub: 'someone-else' }))}.${s}`);
      const flipped = s!.startsWith('A') ? `B${s!.slice(1)}` : `A${s!.slice(1)}`;
      await expect401(`${h}.${good.split('.')[1]}.${flipped}`);
      await expect401(craft(HS256, claims(), { secret: 'another-secret-of-sufficient-length-0123456789' }));
    });

    it('checks the typ header', async () => {
      await expect401(craft({ alg: 'HS256', typ: 'at+jwt' }, claims()));
      await expect401(craft({ alg: 'HS256' }, claims()));
      await expect401(craft({ alg: 'HS256', typ: 'JWT', crit: ['exp'] }, claims()));
    });

    it('rejects garbage and other places for the token', async () => {
      await expect401('not-a-token');
      await expect401('a.b.c');
      expect((await t.request('GET', '/api/auth/me')).status).toBe(401);
      expect((await t.request('GET', `/api/auth/me?token=${admin}`)).status).toBe(401);
      const basic = await t.request('GET', '/api/auth/me', {
        headers: { authorization: 'Basic YWRtaW46YWRtaW4=' },
      });
      expect(basic.status).toBe(401);
      const cookie = await t.request('GET', '/api/auth/me', { headers: { cookie: `token=${admin}` } });
      expect(cookie.status).toBe(401);
    });

    it('never logs a token', async () => {
      await t.request('GET', '/api/auth/me', { token: admin });
      await t.request('GET', '/api/auth/me', { token: 'garbage-token-value' });
      expect(t.rawLogs.some((l) => l.includes(admin) || l.includes('garbage-token-value'))).toBe(false);
    });
  });

  describe('API tokens', () => {
    it('are shown once, authenticate like JWTs, list without secrets, and can be revoked', async () => {
      const created = await t.request('POST', '/api/auth/tokens', {
        token: admin,
        body: { name: 'ci', role: 'viewer', expiresInDays: 30 },
      });
      expect(created.status).toBe(201);
      const tok = (await created.json()) as { id: string; token: string; role: string; expiresAt: string };
      expect(tok.token).toMatch(new RegExp(`^iat_${tok.id}_`));
      expect(tok.role).toBe('viewer');
      expect(Date.parse(tok.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);

      const me = await t.request('GET', '/api/auth/me', { token: tok.token });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({
        name: 'admin',
        role: 'viewer',
        kind: 'token',
        token: { id: tok.id, name: 'ci' },
      });
      // The token's role, not its owner's, decides.
      expect((await t.request('GET', '/api/users', { token: tok.token })).status).toBe(403);

      const list = await t.request('GET', '/api/auth/tokens', { token: admin });
      const text = await list.text();
      expect(text).not.toContain(tok.token.split('_')[2]!);
      const listed = (JSON.parse(text) as Record<string, unknown>[]).find((x) => x.id === tok.id)!;
      expect(listed).toMatchObject({ name: 'ci', role: 'viewer', revoked: false });
      expect(listed.lastUsedAt).not.toBeNull();
      expect(listed).not.toHaveProperty('token');

      expect((await t.request('DELETE', `/api/auth/tokens/${tok.id}`, { token: admin })).status).toBe(204);
      // The audit log names the token by id only.
      expect(t.rawLogs.some((l) => l.includes('API token created') && l.includes(tok.id))).toBe(true);
      expect(t.rawLogs.some((l) => l.includes(tok.token.split('_')[2]!))).toBe(false);
      const after = await t.request('GET', '/api/auth/me', { token: tok.token });
      expect(after.status).toBe(401);
      expect(await after.json()).toMatchObject({ details: expect.stringMatching(/revoked/) });
      expect((await t.request('DELETE', `/api/auth/tokens/${tok.id}`, { token: admin })).status).toBe(204);
    });

    it('refuse a wrong secret, a malformed token and an expired one', async () => {
      const created = await t.request('POST', '/api/auth/tokens', {
        token: admin,
        body: { name: 'short-lived', expiresInDays: 1 },
      });
      const tok = (await created.json()) as { id: string; token: string; role: string };
      expect(tok.role).toBe('admin');
      const secret = tok.token.split('_')[2]!;
      const other = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
      expect((await t.request('GET', '/api/auth/me', { token: `iat_${tok.id}_${other}` })).status).toBe(401);
      expect((await t.request('GET', '/api/auth/me', { token: `iat_${tok.id}` })).status).toBe(401);
      expect((await t.request('GET', '/api/auth/me', { token: tok.token })).status).toBe(200);
      const realNow = Date.now();
      vi.spyOn(Date, 'now').mockReturnValue(realNow + 2 * 86_400_000);
      const expired = await t.request('GET', '/api/auth/me', { token: tok.token });
      expect(expired.status).toBe(401);
      expect(await expired.json()).toMatchObject({ details: expect.stringMatching(/expired/) });
    });

    it('cannot outrank their creator, and cannot mint tokens or change passwords', async () => {
      await createUser(t, admin, 'vera', 'viewer');
      const vera = await login(t, 'vera', 'vera-password-1');
      const tooHigh = await t.request('POST', '/api/auth/tokens', {
        token: vera,
        body: { name: 'x', role: 'admin' },
      });
      expect(tooHigh.status).toBe(403);
      const ok = await t.request('POST', '/api/auth/tokens', { token: vera, body: { name: 'mine' } });
      expect(ok.status).toBe(201);
      const tok = (await ok.json()) as { id: string; token: string; role: string };
      expect(tok.role).toBe('viewer');
      expect(
        (await t.request('POST', '/api/auth/tokens', { token: tok.token, body: { name: 'child' } })).status,
      ).toBe(403);
      const pw = await t.request('POST', '/api/auth/password', {
        token: tok.token,
        body: { currentPassword: 'vera-password-1', newPassword: 'vera-password-2' },
      });
      expect(pw.status).toBe(403);

      // Viewers see only their own tokens and cannot revoke others'.
      const mine = (await (await t.request('GET', '/api/auth/tokens', { token: vera })).json()) as {
        username: string;
      }[];
      expect(mine.length).toBe(1);
      expect(mine.every((x) => x.username === 'vera')).toBe(true);
      const adminTok = (await (
        await t.request('POST', '/api/auth/tokens', { token: admin, body: { name: 'admins-own' } })
      ).json()) as { id: string };
      expect((await t.request('DELETE', `/api/auth/tokens/${adminTok.id}`, { token: vera })).status).toBe(
        404,
      );
      // Admins see everyone's and may revoke any.
      const all = (await (await t.request('GET', '/api/auth/tokens', { token: admin })).json()) as {
        id: string;
      }[];
      expect(all.map((x) => x.id)).toContain(tok.id);
      expect((await t.request('DELETE', `/api/auth/tokens/${tok.id}`, { token: admin })).status).toBe(204);
    });

    it('validate their input', async () => {
      for (const body of [
        {},
        { name: '' },
        { name: 'x', role: 'root' },
        { name: 'x', expiresInDays: 0 },
        { name: 'x', expiresInDays: 1.5 },
        { name: 'x', expiresInDays: 100_000 },
        { name: 'line\nbreak' },
        { name: 'x', extra: true },
      ]) {
        const res = await t.request('POST', '/api/auth/tokens', { token: admin, body });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(((await res.json()) as { fields: unknown[] }).fields.length).toBeGreaterThan(0);
      }
      expect((await t.request('DELETE', '/api/auth/tokens/not-an-id', { token: admin })).status).toBe(400);
      expect((await t.request('DELETE', '/api/auth/tokens/0123456789abcdef', { token: admin })).status).toBe(
        404,
      );
    });
  });

  describe('roles and user management', () => {
    it('needs credentials (401) and the admin role (403)', async () => {
      expect((await t.request('GET', '/api/users')).status).toBe(401);
      await createUser(t, admin, 'otto', 'operator');
      const otto = await login(t, 'otto', 'otto-password-1');
      expect((await t.request('GET', '/api/auth/me', { token: otto })).status).toBe(200);
      const res = await t.request('GET', '/api/users', { token: otto });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: 'FORBIDDEN' });
      expect(
        (await t.request('POST', '/api/users', { token: otto, body: { username: 'x', password: 'y' } }))
          .status,
      ).toBe(403);
      expect((await t.request('GET', '/api/users', { token: admin })).status).toBe(200);
    });

    it('creates, reads, updates and deletes users; bad input changes nothing', async () => {
      const count = async () =>
        ((await (await t.request('GET', '/api/users', { token: admin })).json()) as unknown[]).length;
      const before = await count();
      for (const body of [
        { username: 'Upper', password: 'long-enough-password' },
        { username: 'ok', password: 'short' },
        { username: 'ok', password: 'long-enough-password', role: 'superuser' },
        { username: 'ok', password: 'long-enough-password', admin: true },
      ]) {
        const res = await t.request('POST', '/api/users', { token: admin, body });
        expect(res.status, JSON.stringify(body)).toBe(400);
      }
      expect(await count()).toBe(before);

      const u = await createUser(t, admin, 'paula', 'viewer');
      expect(
        (
          await t.request('POST', '/api/users', {
            token: admin,
            body: { username: 'paula', password: 'another-long-pw' },
          })
        ).status,
      ).toBe(409);
      const got = await t.request('GET', `/api/users/${u.id}`, { token: admin });
      const user = (await got.json()) as Record<string, unknown>;
      expect(user).toMatchObject({ username: 'paula', role: 'viewer', disabled: false, lastLoginAt: null });
      expect(JSON.stringify(user)).not.toMatch(/hash|scrypt/i);

      const session = await login(t, 'paula', 'paula-password-1');
      const promoted = await t.request('PATCH', `/api/users/${u.id}`, {
        token: admin,
        body: { role: 'operator' },
      });
      expect(await promoted.json()).toMatchObject({ role: 'operator' });
      // The role is read per request: the old session now acts as operator.
      expect(await (await t.request('GET', '/api/auth/me', { token: session })).json()).toMatchObject({
        role: 'operator',
      });

      // A password reset ends earlier sessions.
      const reset = await t.request('PATCH', `/api/users/${u.id}`, {
        token: admin,
        body: { password: 'paula-password-2' },
      });
      expect(reset.status).toBe(200);
      expect((await t.request('GET', '/api/auth/me', { token: session })).status).toBe(401);
      await login(t, 'paula', 'paula-password-2');
      expect(t.rawLogs.some((l) => l.includes('paula-password'))).toBe(false);

      expect((await t.request('PATCH', `/api/users/${u.id}`, { token: admin, body: {} })).status).toBe(400);
      expect(
        (await t.request('PATCH', `/api/users/${u.id}`, { token: admin, body: { role: 'god' } })).status,
      ).toBe(400);
      expect((await t.request('GET', '/api/users/not-a-uuid', { token: admin })).status).toBe(400);
      const missing = '00000000-0000-4000-8000-000000000000';
      expect((await t.request('GET', `/api/users/${missing}`, { token: admin })).status).toBe(404);
      expect((await t.request('DELETE', `/api/users/${missing}`, { token: admin })).status).toBe(404);

      expect((await t.request('DELETE', `/api/users/${u.id}`, { token: admin })).status).toBe(204);
      expect((await t.request('GET', `/api/users/${u.id}`, { token: admin })).status).toBe(404);
    });

    it('protects the last enabled admin (409)', async () => {
      const users = (await (await t.request('GET', '/api/users', { token: admin })).json()) as {
        id: string;
        username: string;
      }[];
      const adminId = users.find((u) => u.username === 'admin')!.id;
      for (const [method, body] of [
        ['DELETE', undefined],
        ['PATCH', { role: 'operator' }],
        ['PATCH', { disabled: true }],
      ] as const) {
        const res = await t.request(method, `/api/users/${adminId}`, {
          token: admin,
          ...(body ? { body } : {}),
        });
        expect(res.status, `${method} ${JSON.stringify(body)}`).toBe(409);
        expect(await res.json()).toMatchObject({ code: 'CONFLICT' });
      }
      expect((await t.request('GET', '/api/auth/me', { token: admin })).status).toBe(200);

      // With a second admin the first may step down.
      const second = await createUser(t, admin, 'second-admin', 'admin');
      const demote = await t.request('PATCH', `/api/users/${adminId}`, {
        token: admin,
        body: { role: 'viewer' },
      });
      expect(demote.status).toBe(200);
      const secondToken = await login(t, 'second-admin', 'second-admin-password-1');
      expect((await t.request('DELETE', `/api/users/${second.id}`, { token: secondToken })).status).toBe(409);
      expect(
        (await t.request('PATCH', `/api/users/${adminId}`, { token: secondToken, body: { role: 'admin' } }))
          .status,
      ).toBe(200);
    });
  });

  describe('own password', () => {
    it('needs the current password, ends old sessions and returns a new one', async () => {
      await createUser(t, admin, 'carl', 'viewer');
      const old = await login(t, 'carl', 'carl-password-1');
      const wrong = await t.request('POST', '/api/auth/password', {
        token: old,
        body: { currentPassword: 'not-it-at-all', newPassword: 'carl-password-2' },
      });
      expect(wrong.status).toBe(400);
      expect(await wrong.json()).toMatchObject({ fields: [{ path: 'currentPassword' }] });
      const weak = await t.request('POST', '/api/auth/password', {
        token: old,
        body: { currentPassword: 'carl-password-1', newPassword: 'short' },
      });
      expect(weak.status).toBe(400);

      const ok = await t.request('POST', '/api/auth/password', {
        token: old,
        body: { currentPassword: 'carl-password-1', newPassword: 'carl-password-2' },
      });
      expect(ok.status).toBe(200);
      const fresh = ((await ok.json()) as { token: string }).token;
      expect((await t.request('GET', '/api/auth/me', { token: old })).status).toBe(401);
      expect((await t.request('GET', '/api/auth/me', { token: fresh })).status).toBe(200);
      await login(t, 'carl', 'carl-password-2');
    });
  });
});
