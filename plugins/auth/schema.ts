/**
 * Tables owned by the auth plugin. Migrations: `node_modules/.bin/drizzle-kit generate --config
 * plugins/auth/drizzle.config.ts`. Times are Unix milliseconds.
 */
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { ROLES } from '../../core/slots/auth.ts';

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  /** Lower-case; unique. */
  username: text('username').notNull().unique(),
  /** `$scrypt$ln=…,r=…,p=…$salt$hash` — parameters travel with the hash. */
  passwordHash: text('password_hash').notNull(),
  role: text('role', { enum: ROLES }).notNull(),
  disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
  /** Bumped on password change or reset: login JWTs carry it, so older ones stop working. */
  tokenVersion: integer('token_version').notNull().default(0),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
  lastLoginAt: integer('last_login_at'),
});

export const apiTokens = sqliteTable(
  'api_tokens',
  {
    /** Public part of the token (`iat_<id>_<secret>`); also the id in the API. */
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    role: text('role', { enum: ROLES }).notNull(),
    /** SHA-256 (hex) of the random secret; the secret itself is never stored. */
    secretHash: text('secret_hash').notNull(),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('api_tokens_user_idx').on(t.userId)],
);

export type UserRow = typeof users.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;
