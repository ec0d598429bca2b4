/**
 * HTTP routes of the auth plugin: login, the caller, own password, API tokens, and user
 * management for admins. Each route validates its input with a valibot schema that also
 * documents it, and names every response it can give.
 */
import type { Context } from 'hono';
import * as v from 'valibot';
import { ApiError, forbidden } from '../../core/kernel/errors.ts';
import { requireRole } from '../../core/kernel/guard.ts';
import { describe } from '../../core/kernel/openapi.ts';
import type { App, AppEnv } from '../../core/kernel/plugin.ts';
import { validate } from '../../core/kernel/validation.ts';
import { ROLES } from '../../core/slots/auth.ts';
import { PASSWORD_MAX, PASSWORD_MIN } from './passwords.ts';
import type { SlidingWindowLimiter } from './rate-limit.ts';
import type { AuthService } from './service.ts';

// ------------------------------------------------------------------ schemas

const Role = v.pipe(
  v.picklist(ROLES),
  v.description('viewer reads; operator runs and deploys; admin manages'),
);
const Timestamp = v.pipe(v.string(), v.isoTimestamp(), v.description('ISO 8601 date-time (UTC)'));

const Username = v.pipe(
  v.string(),
  v.regex(
    /^[a-z0-9][a-z0-9._-]{0,63}$/,
    'use 1-64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
  ),
  v.description('Lower-case login name'),
);
const NewPassword = v.pipe(
  v.string(),
  v.minLength(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`),
  v.maxLength(PASSWORD_MAX, `must be at most ${PASSWORD_MAX} characters`),
);
// Login accepts any plausible input: a stricter check here would tell guessers which names exist.
const AnyUsername = v.pipe(v.string(), v.minLength(1, 'is required'), v.maxLength(128, 'is too long'));
const AnyPassword = v.pipe(v.string(), v.minLength(1, 'is required'), v.maxLength(1024, 'is too long'));

const TokenName = v.pipe(
  v.string(),
  v.minLength(1, 'is required'),
  v.maxLength(100, 'must be at most 100 characters'),
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  v.regex(/^[^\u0000-\u001f\u007f]*$/, 'must not contain control characters'),
  v.description('What the token is for, e.g. "ci-deploy"'),
);

const UserRef = v.object({ id: v.string(), username: v.string(), role: Role });
const Session = v.pipe(
  v.object({
    token: v.pipe(v.string(), v.description('JWT (HS256); send as "Authorization: Bearer <token>"')),
    expiresAt: Timestamp,
    user: UserRef,
  }),
  v.title('Session'),
);
const User = v.pipe(
  v.object({
    id: v.string(),
    username: v.string(),
    role: Role,
    disabled: v.boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    lastLoginAt: v.nullable(Timestamp),
  }),
  v.title('User'),
);
const Me = v.pipe(
  v.object({
    id: v.pipe(v.string(), v.description('User id (for API tokens: the owner)')),
    name: v.string(),
    role: v.pipe(
      Role,
      v.description('Effective role: for an API token, the lower of its role and its owner’s'),
    ),
    kind: v.picklist(['user', 'token', 'node']),
    token: v.optional(v.object({ id: v.string(), name: v.string(), expiresAt: v.nullable(Timestamp) })),
  }),
  v.title('Principal'),
);
const ApiToken = v.pipe(
  v.object({
    id: v.string(),
    name: v.string(),
    role: Role,
    userId: v.string(),
    username: v.string(),
    createdAt: Timestamp,
    lastUsedAt: v.nullable(Timestamp),
    expiresAt: v.nullable(Timestamp),
    revoked: v.boolean(),
  }),
  v.title('ApiToken'),
);
const CreatedApiToken = v.pipe(
  v.object({
    ...ApiToken.entries,
    token: v.pipe(v.string(), v.description('The token (iat_<id>_<secret>). Shown only in this response.')),
  }),
  v.title('CreatedApiToken'),
);

const LoginBody = v.strictObject({ username: AnyUsername, password: AnyPassword });
const PasswordBody = v.strictObject({ currentPassword: AnyPassword, newPassword: NewPassword });
const CreateTokenBody = v.strictObject({
  name: TokenName,
  role: v.optional(v.pipe(Role, v.description('At most your own role; defaults to it'))),
  expiresInDays: v.optional(
    v.pipe(
      v.number(),
      v.integer('must be a whole number of days'),
      v.minValue(1, 'must be at least 1'),
      v.maxValue(3650, 'must be at most 3650'),
      v.description('Days until the token stops working; omit for no expiry'),
    ),
  ),
});
const CreateUserBody = v.strictObject({
  username: Username,
  password: NewPassword,
  role: v.optional(v.pipe(Role, v.description('Defaults to viewer'))),
});
const PatchUserBody = v.pipe(
  v.strictObject({
    role: v.optional(Role),
    password: v.optional(v.pipe(NewPassword, v.description('New password; ends the user’s sessions'))),
    disabled: v.optional(
      v.pipe(v.boolean(), v.description('A disabled user can neither log in nor use tokens')),
    ),
  }),
  v.minEntries(1, 'give at least one of role, password, disabled'),
);
const UserIdParam = v.object({ id: v.pipe(v.string(), v.uuid('is not a user id')) });
const TokenIdParam = v.object({
  id: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/, 'is not an API token id (16 hex digits)')),
});

// ------------------------------------------------------------------ routes

export interface RouteDeps {
  service: AuthService;
  loginLimiter: SlidingWindowLimiter;
  passwordLimiter: SlidingWindowLimiter;
  trustProxy: boolean;
}

const TAGS = { auth: ['auth'], users: ['users'] };

function rateLimited(retryAfter: number, what: string): ApiError {
  return new ApiError(
    429,
    'RATE_LIMITED',
    'Too many requests',
    `Too many ${what}; try again in ${retryAfter} s`,
    {
      headers: { 'Retry-After': String(retryAfter) },
    },
  );
}

/**
 * The client's address for rate limiting. Only behind a trusted proxy do forwarding headers count:
 * the last X-Forwarded-For entry is the one that proxy appended.
 */
export function clientAddress(c: Context<AppEnv>, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',').at(-1)?.trim();
    if (forwarded) return forwarded.slice(0, 64);
  }
  return remoteAddress(c) ?? 'unknown';
}

/**
 * The peer address, if the server adapter handed one to Hono as `env.remoteAddress`. The
 * Runtime.serve contract does not carry it yet; until it does, every client shares one counter
 * per username.
 */
function remoteAddress(c: Context<AppEnv>): string | undefined {
  const env = c.env as { remoteAddress?: unknown } | undefined;
  return env && typeof env === 'object' && typeof env.remoteAddress === 'string'
    ? env.remoteAddress
    : undefined;
}

/** Who changed what, for the operator's log. Never secrets. */
function audit(c: Context<AppEnv>, what: string, fields: Record<string, unknown>): void {
  const p = c.get('principal');
  c.get('logger').info({ audit: true, actor: { id: p.id, name: p.name, kind: p.kind }, ...fields }, what);
}

/** API tokens may not mint tokens or change passwords: that would outlive or outrank a leaked token. */
function requireSession(c: Context<AppEnv>): void {
  if (c.get('principal').kind !== 'user') {
    throw forbidden('Log in with a password for this; API tokens cannot do it');
  }
}

export function authRoutes(app: App, deps: RouteDeps): void {
  const { service } = deps;

  app.post(
    '/api/auth/login',
    describe({
      summary: 'Log in with username and password; returns a JWT',
      tags: TAGS.auth,
      operationId: 'login',
      anonymous: true,
      body: true,
      responses: { 200: { description: 'Logged in', schema: Session } },
      errors: {
        401: 'Unknown username or wrong password (the same answer for both)',
        403: 'The account is disabled',
        429: 'Too many login attempts; see Retry-After',
      },
    }),
    validate('json', LoginBody),
    async (c) => {
      const { username, password } = c.req.valid('json');
      const key = `${clientAddress(c, deps.trustProxy)}\u0000${username.toLowerCase()}`;
      const limit = deps.loginLimiter.hit(key);
      if (!limit.allowed) throw rateLimited(limit.retryAfter, 'login attempts');
      const session = await service.login(username, password);
      deps.loginLimiter.reset(key);
      return c.json(session, 200);
    },
  );

  app.get(
    '/api/auth/me',
    describe({
      summary: 'Who am I: the principal of this request',
      tags: TAGS.auth,
      operationId: 'getMe',
      responses: { 200: { description: 'The caller', schema: Me } },
    }),
    requireRole('viewer'),
    (c) => {
      const p = c.get('principal');
      return c.json(
        { id: p.id, name: p.name, role: p.role, kind: p.kind, ...service.callerDetails(c.req.raw) },
        200,
      );
    },
  );

  app.post(
    '/api/auth/password',
    describe({
      summary: 'Change your own password; ends your other sessions and returns a new one',
      tags: TAGS.auth,
      operationId: 'changePassword',
      body: true,
      responses: { 200: { description: 'Changed; a fresh session', schema: Session } },
      errors: { 403: 'Called with an API token', 429: 'Too many attempts; see Retry-After' },
    }),
    requireRole('viewer'),
    validate('json', PasswordBody),
    async (c) => {
      requireSession(c);
      const { currentPassword, newPassword } = c.req.valid('json');
      const principal = c.get('principal');
      const limit = deps.passwordLimiter.hit(principal.id);
      if (!limit.allowed) throw rateLimited(limit.retryAfter, 'password attempts');
      const session = await service.changePassword(principal.id, currentPassword, newPassword);
      audit(c, 'password changed', { userId: principal.id });
      return c.json(session, 200);
    },
  );

  app.get(
    '/api/auth/tokens',
    describe({
      summary: 'List API tokens: your own, or everyone’s for admins (never the secrets)',
      tags: TAGS.auth,
      operationId: 'listApiTokens',
      responses: { 200: { description: 'Tokens', schema: v.array(ApiToken) } },
    }),
    requireRole('viewer'),
    async (c) => c.json(await service.listTokens(c.get('principal')), 200),
  );

  app.post(
    '/api/auth/tokens',
    describe({
      summary: 'Create an API token; the response is the only time it is shown',
      tags: TAGS.auth,
      operationId: 'createApiToken',
      body: true,
      responses: { 201: { description: 'Created', schema: CreatedApiToken } },
      errors: {
        403: 'The role asked for is above yours, or the call used an API token',
        409: 'Too many active tokens',
      },
    }),
    requireRole('viewer'),
    validate('json', CreateTokenBody),
    async (c) => {
      requireSession(c);
      const created = await service.createToken(c.get('principal'), c.req.valid('json'));
      audit(c, 'API token created', { tokenId: created.id, role: created.role });
      return c.json(created, 201);
    },
  );

  app.delete(
    '/api/auth/tokens/:id',
    describe({
      summary: 'Revoke an API token (your own; admins: any)',
      tags: TAGS.auth,
      operationId: 'revokeApiToken',
      responses: { 204: { description: 'Revoked (or already revoked)' } },
      errors: { 404: 'No such token among those you may see' },
    }),
    requireRole('viewer'),
    validate('param', TokenIdParam),
    async (c) => {
      const { id } = c.req.valid('param');
      await service.revokeToken(c.get('principal'), id);
      audit(c, 'API token revoked', { tokenId: id });
      return c.body(null, 204);
    },
  );

  // ---------------------------------------------------------------- users (admin)

  app.get(
    '/api/users',
    describe({
      summary: 'List users',
      tags: TAGS.users,
      operationId: 'listUsers',
      responses: { 200: { description: 'Users', schema: v.array(User) } },
    }),
    requireRole('admin'),
    async (c) => c.json(await service.listUsers(), 200),
  );

  app.post(
    '/api/users',
    describe({
      summary: 'Create a user',
      tags: TAGS.users,
      operationId: 'createUser',
      body: true,
      responses: { 201: { description: 'Created', schema: User } },
      errors: { 409: 'The username is taken' },
    }),
    requireRole('admin'),
    validate('json', CreateUserBody),
    async (c) => {
      const body = c.req.valid('json');
      const user = await service.createUser({ ...body, role: body.role ?? 'viewer' });
      audit(c, 'user created', { userId: user.id, username: user.username, role: user.role });
      return c.json(user, 201);
    },
  );

  app.get(
    '/api/users/:id',
    describe({
      summary: 'Get a user',
      tags: TAGS.users,
      operationId: 'getUser',
      responses: { 200: { description: 'The user', schema: User } },
      errors: { 404: 'No such user' },
    }),
    requireRole('admin'),
    validate('param', UserIdParam),
    async (c) => c.json(await service.getUser(c.req.valid('param').id), 200),
  );

  app.patch(
    '/api/users/:id',
    describe({
      summary: 'Change a user’s role, reset their password, or disable/enable them',
      tags: TAGS.users,
      operationId: 'updateUser',
      body: true,
      responses: { 200: { description: 'Updated', schema: User } },
      errors: { 404: 'No such user', 409: 'Would leave no enabled admin' },
    }),
    requireRole('admin'),
    validate('param', UserIdParam),
    validate('json', PatchUserBody),
    async (c) => {
      const patch = c.req.valid('json');
      const user = await service.updateUser(c.req.valid('param').id, patch);
      // Which fields changed, never the new password.
      audit(c, 'user updated', {
        userId: user.id,
        changed: Object.keys(patch),
        ...(patch.role ? { role: patch.role } : {}),
        ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
      });
      return c.json(user, 200);
    },
  );

  app.delete(
    '/api/users/:id',
    describe({
      summary: 'Delete a user and their API tokens',
      tags: TAGS.users,
      operationId: 'deleteUser',
      responses: { 204: { description: 'Deleted' } },
      errors: { 404: 'No such user', 409: 'Would leave no enabled admin' },
    }),
    requireRole('admin'),
    validate('param', UserIdParam),
    async (c) => {
      const { id } = c.req.valid('param');
      await service.deleteUser(id);
      audit(c, 'user deleted', { userId: id });
      return c.body(null, 204);
    },
  );
}
