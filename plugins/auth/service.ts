/**
 * What the auth routes and the `auth:authenticate` hook do, against the plugin's own tables.
 * Roles are read from the database on every request, so a role change, a disabled account or a
 * revoked token takes effect at once; login JWTs only say who the caller is.
 */
import { and, asc, count, eq, isNull, ne } from 'drizzle-orm';
import { ApiError, conflict, forbidden, notFound, unauthorized } from '../../core/kernel/errors.ts';
import type { SqliteDb } from '../../core/runtime/types.ts';
import { type Principal, type Role, roleAtLeast } from '../../core/slots/auth.ts';
import type { Storage } from '../../core/slots/storage.ts';
import { InvalidToken, type JwtSettings, signSession, verifySession } from './jwt.ts';
import {
  generatePassword,
  hashPassword,
  needsRehash,
  PASSWORD_MAX,
  PASSWORD_MIN,
  type ScryptParams,
  verifyPassword,
} from './passwords.ts';
import { type ApiTokenRow, apiTokens, type UserRow, users } from './schema.ts';
import { isApiTokenShaped, newApiToken, parseApiToken, secretMatches } from './tokens.ts';

/** lastUsedAt is written at most this often per token, so authentication is not a write per request. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Active (unrevoked, unexpired) tokens one user may hold. */
export const MAX_TOKENS_PER_USER = 100;
const DAY_MS = 86_400_000;

const INVALID_LOGIN = 'Unknown username or wrong password';

export interface PublicUser {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
}

export interface PublicToken {
  id: string;
  name: string;
  role: Role;
  userId: string;
  username: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revoked: boolean;
}

export interface Session {
  token: string;
  expiresAt: string;
  user: { id: string; username: string; role: Role };
}

/** What the hook learned about a request beyond the Principal (which API token, if any). */
export interface CallerDetails {
  token?: { id: string; name: string; expiresAt: string | null };
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const lowerRole = (a: Role, b: Role): Role => (roleAtLeast(a, b) ? b : a);

export function toPublicUser(u: UserRow): PublicUser {
  return {
    id: u.id,
    username: u.username,
    role: u.role,
    disabled: u.disabled,
    createdAt: iso(u.createdAt)!,
    updatedAt: iso(u.updatedAt)!,
    lastLoginAt: iso(u.lastLoginAt),
  };
}

function toPublicToken(t: ApiTokenRow, username: string): PublicToken {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    userId: t.userId,
    username,
    createdAt: iso(t.createdAt)!,
    lastUsedAt: iso(t.lastUsedAt),
    expiresAt: iso(t.expiresAt),
    revoked: t.revokedAt !== null,
  };
}

export interface AuthServiceOptions {
  storage: Storage;
  jwt: JwtSettings;
  scrypt: ScryptParams;
}

export class AuthService {
  private readonly storage: Storage;
  private readonly jwt: JwtSettings;
  private readonly scrypt: ScryptParams;
  private dummyHash: Promise<string> | undefined;
  /** Per-request details for GET /api/auth/me; weak so finished requests are collected. */
  private readonly details = new WeakMap<Request, CallerDetails>();

  constructor(opts: AuthServiceOptions) {
    this.storage = opts.storage;
    this.jwt = opts.jwt;
    this.scrypt = opts.scrypt;
  }

  private get db(): SqliteDb {
    return this.storage.db;
  }

  /**
   * A hash of a random password with the current parameters, verified against for unknown
   * usernames so they cost as much time as wrong passwords.
   */
  warmUp(): Promise<string> {
    this.dummyHash ??= hashPassword(generatePassword(), this.scrypt);
    return this.dummyHash;
  }

  // ---------------------------------------------------------------- bootstrap

  /** On first start (no users at all) create `admin`; returns the generated password if one was made. */
  async bootstrapAdmin(
    envPassword: string | undefined,
    envName: string,
  ): Promise<{ created: boolean; generated?: string }> {
    if ((await this.countUsers(this.db)) > 0) return { created: false };
    if (
      envPassword !== undefined &&
      (envPassword.length < PASSWORD_MIN || envPassword.length > PASSWORD_MAX)
    ) {
      throw new Error(`${envName} must be ${PASSWORD_MIN}-${PASSWORD_MAX} characters long`);
    }
    const generated = envPassword === undefined ? generatePassword() : undefined;
    const password = envPassword ?? generated!;
    const hash = await hashPassword(password, this.scrypt);
    const created = await this.storage.transaction(async (db) => {
      // Another process may have bootstrapped while we hashed.
      if ((await this.countUsers(db)) > 0) return false;
      await this.insertUser(db, { username: 'admin', role: 'admin', passwordHash: hash });
      return true;
    });
    return created ? { created, ...(generated ? { generated } : {}) } : { created: false };
  }

  private async countUsers(db: SqliteDb): Promise<number> {
    const [row] = await db.select({ n: count() }).from(users);
    return Number(row?.n ?? 0);
  }

  // ---------------------------------------------------------------- login

  async login(username: string, password: string): Promise<Session> {
    const user = await this.userByName(username.toLowerCase());
    if (!user) {
      await verifyPassword(password, await this.warmUp());
      throw unauthorized(INVALID_LOGIN);
    }
    if (!(await verifyPassword(password, user.passwordHash))) throw unauthorized(INVALID_LOGIN);
    // Only after the right password, so the status says nothing to someone guessing.
    if (user.disabled) {
      throw new ApiError(
        403,
        'ACCOUNT_DISABLED',
        'Forbidden',
        'This account is disabled; ask an administrator',
      );
    }
    const now = Date.now();
    const set: Partial<UserRow> = { lastLoginAt: now };
    if (needsRehash(user.passwordHash, this.scrypt))
      set.passwordHash = await hashPassword(password, this.scrypt);
    // Matching the old hash keeps a concurrent password change from being overwritten.
    // Writes go through storage.transaction, which serializes them with other owners' transactions.
    await this.storage.transaction((db) =>
      db
        .update(users)
        .set(set)
        .where(and(eq(users.id, user.id), eq(users.passwordHash, user.passwordHash))),
    );
    return this.session(user);
  }

  private async session(user: UserRow): Promise<Session> {
    const { token, expiresAt } = await signSession(this.jwt, user);
    return {
      token,
      expiresAt: expiresAt.toISOString(),
      user: { id: user.id, username: user.username, role: user.role },
    };
  }

  /** Change one's own password; every earlier session of the user ends, a new one is returned. */
  async changePassword(userId: string, current: string, next: string): Promise<Session> {
    const user = await this.userById(userId);
    if (!user) throw unauthorized('The session is no longer valid; log in again');
    if (!(await verifyPassword(current, user.passwordHash))) {
      throw new ApiError(400, 'VALIDATION_FAILED', 'Invalid request', 'The current password is not correct', {
        fields: [{ path: 'currentPassword', message: 'is not correct' }],
      });
    }
    const hash = await hashPassword(next, this.scrypt);
    const updated = await this.storage.transaction(async (db) => {
      await db
        .update(users)
        .set({ passwordHash: hash, tokenVersion: user.tokenVersion + 1, updatedAt: Date.now() })
        .where(eq(users.id, user.id));
      return (await db.select().from(users).where(eq(users.id, user.id)))[0];
    });
    if (!updated) throw unauthorized('The session is no longer valid; log in again');
    return this.session(updated);
  }

  // ---------------------------------------------------------------- authenticate

  /**
   * The `auth:authenticate` handler: no Authorization header → undefined (anonymous; the guard
   * decides); a Bearer JWT or API token → its principal; anything else that claims to be ours → 401.
   */
  async authenticate(request: Request): Promise<Principal | undefined> {
    const header = request.headers.get('authorization');
    if (header === null) return undefined;
    const m = /^Bearer +(\S+) *$/i.exec(header);
    if (!m) {
      // Another scheme may belong to another plugin (e.g. peer nodes); not ours to judge.
      if (!/^Bearer\b/i.test(header)) return undefined;
      throw unauthorized('The Authorization header must be "Bearer <token>"');
    }
    const bearer = m[1]!;
    return isApiTokenShaped(bearer)
      ? this.authenticateApiToken(request, bearer)
      : this.authenticateJwt(bearer);
  }

  private async authenticateJwt(bearer: string): Promise<Principal> {
    let claims: Awaited<ReturnType<typeof verifySession>>;
    try {
      claims = await verifySession(this.jwt, bearer);
    } catch (e) {
      if (e instanceof InvalidToken) throw unauthorized(e.reason);
      throw e;
    }
    const user = await this.userById(claims.sub);
    if (!user || user.disabled || user.tokenVersion !== claims.ver) {
      throw unauthorized(
        'The session is no longer valid (password changed, account disabled or removed); log in again',
      );
    }
    return { id: user.id, name: user.username, role: user.role, kind: 'user' };
  }

  private async authenticateApiToken(request: Request, bearer: string): Promise<Principal> {
    const parsed = parseApiToken(bearer);
    if (!parsed) throw unauthorized('The API token is malformed');
    const [row] = await this.db
      .select({ token: apiTokens, user: users })
      .from(apiTokens)
      .innerJoin(users, eq(apiTokens.userId, users.id))
      .where(eq(apiTokens.id, parsed.id));
    if (!row || !secretMatches(parsed.secret, row.token.secretHash))
      throw unauthorized('The API token is invalid');
    const { token, user } = row;
    const now = Date.now();
    if (token.revokedAt !== null) throw unauthorized('The API token has been revoked');
    if (token.expiresAt !== null && token.expiresAt <= now) throw unauthorized('The API token has expired');
    if (user.disabled) throw unauthorized('The API token belongs to a disabled account');
    if (token.lastUsedAt === null || now - token.lastUsedAt >= LAST_USED_RESOLUTION_MS) {
      await this.storage.transaction((db) =>
        db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, token.id)),
      );
    }
    this.details.set(request, { token: { id: token.id, name: token.name, expiresAt: iso(token.expiresAt) } });
    // A token never has more rights than its owner has now (the owner may have been demoted).
    return { id: user.id, name: user.username, role: lowerRole(token.role, user.role), kind: 'token' };
  }

  callerDetails(request: Request): CallerDetails {
    return this.details.get(request) ?? {};
  }

  // ---------------------------------------------------------------- users

  async userById(id: string): Promise<UserRow | undefined> {
    return (await this.db.select().from(users).where(eq(users.id, id)))[0];
  }

  private async userByName(username: string): Promise<UserRow | undefined> {
    return (await this.db.select().from(users).where(eq(users.username, username)))[0];
  }

  async listUsers(): Promise<PublicUser[]> {
    return (await this.db.select().from(users).orderBy(asc(users.username))).map(toPublicUser);
  }

  async getUser(id: string): Promise<PublicUser> {
    const user = await this.userById(id);
    if (!user) throw notFound(`User ${id}`);
    return toPublicUser(user);
  }

  async createUser(input: { username: string; password: string; role: Role }): Promise<PublicUser> {
    if (await this.userByName(input.username))
      throw conflict(`A user named "${input.username}" already exists`);
    const hash = await hashPassword(input.password, this.scrypt);
    const row = await this.storage.transaction(async (db) => {
      // Checked again inside the transaction: the hash took a while.
      if ((await db.select({ id: users.id }).from(users).where(eq(users.username, input.username))).length) {
        throw conflict(`A user named "${input.username}" already exists`);
      }
      return this.insertUser(db, { username: input.username, role: input.role, passwordHash: hash });
    });
    return toPublicUser(row);
  }

  private async insertUser(
    db: SqliteDb,
    u: { username: string; role: Role; passwordHash: string },
  ): Promise<UserRow> {
    const now = Date.now();
    const row: UserRow = {
      id: crypto.randomUUID(),
      username: u.username,
      passwordHash: u.passwordHash,
      role: u.role,
      disabled: false,
      tokenVersion: 0,
      createdAt: now,
      updatedAt: now,
      lastLoginAt: null,
    };
    await db.insert(users).values(row);
    return row;
  }

  /** Would removing `user`'s admin powers leave no enabled admin? */
  private async isLastAdmin(db: SqliteDb, user: UserRow): Promise<boolean> {
    if (user.role !== 'admin' || user.disabled) return false;
    const [row] = await db
      .select({ n: count() })
      .from(users)
      .where(and(eq(users.role, 'admin'), eq(users.disabled, false), ne(users.id, user.id)));
    return Number(row?.n ?? 0) === 0;
  }

  async updateUser(
    id: string,
    patch: { role?: Role; password?: string; disabled?: boolean },
  ): Promise<PublicUser> {
    const hash = patch.password === undefined ? undefined : await hashPassword(patch.password, this.scrypt);
    const row = await this.storage.transaction(async (db) => {
      const [user] = await db.select().from(users).where(eq(users.id, id));
      if (!user) throw notFound(`User ${id}`);
      const losesAdmin = (patch.role !== undefined && patch.role !== 'admin') || patch.disabled === true;
      if (losesAdmin && (await this.isLastAdmin(db, user))) {
        throw conflict('This is the last enabled admin; make another user admin first');
      }
      const set: Partial<UserRow> = { updatedAt: Date.now() };
      if (patch.role !== undefined) set.role = patch.role;
      if (patch.disabled !== undefined) set.disabled = patch.disabled;
      // A reset password ends the user's sessions, as does disabling (checked per request anyway).
      if (hash !== undefined) set.passwordHash = hash;
      if (hash !== undefined || patch.disabled === true) set.tokenVersion = user.tokenVersion + 1;
      await db.update(users).set(set).where(eq(users.id, id));
      return { ...user, ...set };
    });
    return toPublicUser(row);
  }

  async deleteUser(id: string): Promise<void> {
    await this.storage.transaction(async (db) => {
      const [user] = await db.select().from(users).where(eq(users.id, id));
      if (!user) throw notFound(`User ${id}`);
      if (await this.isLastAdmin(db, user)) {
        throw conflict('This is the last enabled admin; make another user admin first');
      }
      // Explicit, not only ON DELETE CASCADE: it does not depend on PRAGMA foreign_keys.
      await db.delete(apiTokens).where(eq(apiTokens.userId, id));
      await db.delete(users).where(eq(users.id, id));
    });
  }

  // ---------------------------------------------------------------- API tokens

  async createToken(
    principal: Principal,
    input: { name: string; role?: Role; expiresInDays?: number },
  ): Promise<PublicToken & { token: string }> {
    const role = input.role ?? principal.role;
    if (!roleAtLeast(principal.role, role)) {
      throw forbidden(
        `A token cannot have more rights than you: you are ${principal.role}, it asks for ${role}`,
      );
    }
    const now = Date.now();
    const made = newApiToken();
    const row: ApiTokenRow = {
      id: made.id,
      userId: principal.id,
      name: input.name,
      role,
      secretHash: made.secretHash,
      createdAt: now,
      lastUsedAt: null,
      expiresAt: input.expiresInDays === undefined ? null : now + input.expiresInDays * DAY_MS,
      revokedAt: null,
    };
    await this.storage.transaction(async (db) => {
      const active = await db
        .select({ expiresAt: apiTokens.expiresAt })
        .from(apiTokens)
        .where(and(eq(apiTokens.userId, principal.id), isNull(apiTokens.revokedAt)));
      if (active.filter((t) => t.expiresAt === null || t.expiresAt > now).length >= MAX_TOKENS_PER_USER) {
        throw conflict(`You already have ${MAX_TOKENS_PER_USER} active API tokens; revoke some first`);
      }
      await db.insert(apiTokens).values(row);
    });
    return { ...toPublicToken(row, principal.name), token: made.token };
  }

  /** Own tokens; an admin (by current effective role) sees everyone's. */
  async listTokens(principal: Principal): Promise<PublicToken[]> {
    const query = this.db
      .select({ token: apiTokens, username: users.username })
      .from(apiTokens)
      .innerJoin(users, eq(apiTokens.userId, users.id));
    const rows =
      principal.role === 'admin'
        ? await query.orderBy(asc(apiTokens.createdAt))
        : await query.where(eq(apiTokens.userId, principal.id)).orderBy(asc(apiTokens.createdAt));
    return rows.map((r) => toPublicToken(r.token, r.username));
  }

  /** Revoke a token; someone else's token looks like a missing one unless the caller is admin. */
  async revokeToken(principal: Principal, id: string): Promise<void> {
    const [row] = await this.db.select().from(apiTokens).where(eq(apiTokens.id, id));
    if (!row || (row.userId !== principal.id && principal.role !== 'admin'))
      throw notFound(`API token ${id}`);
    if (row.revokedAt !== null) return;
    await this.storage.transaction((db) =>
      db
        .update(apiTokens)
        .set({ revokedAt: Date.now() })
        .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt))),
    );
  }
}
