/**
 * Tables owned by the applications module (migration owner `applications`). Migrations:
 * `node_modules/.bin/drizzle-kit generate --config core/domain/applications/drizzle.config.ts`.
 * Times are Unix milliseconds; memory and storage are GB as the design document gives them.
 *
 * Secret environment values and the Git access token are stored only sealed (SecretBox,
 * AES-256-GCM) with the contexts `application:<id>:env:<NAME>` and `application:<id>:gitToken`,
 * so a ciphertext copied into another row or variable does not open.
 */
import { integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const APP_STATUSES = ['idle', 'running', 'stopped', 'error', 'deploying'] as const;
export type AppStatus = (typeof APP_STATUSES)[number];

/** One environment variable as stored: plain, or sealed when secret. */
export type StoredEnv = { name: string; value: string } | { name: string; sealed: string };

export interface StoredPort {
  containerPort: number;
  servicePort?: number;
  protocol: 'TCP' | 'UDP';
}

export interface StoredHealthCheck {
  path: string;
  port: number;
  interval: number;
  timeout: number;
}

export const applications = sqliteTable('applications', {
  /** `app_` + 20 hex digits. */
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  description: text('description').notNull().default(''),
  /** Without userinfo (refused on input); empty when the application is image-only. */
  gitUrl: text('git_url').notNull().default(''),
  branch: text('branch').notNull().default('main'),
  commitHash: text('commit_hash'),
  gitTokenSealed: text('git_token_sealed'),
  type: text('type', { enum: ['web', 'api', 'worker', 'database'] }).notNull(),
  image: text('image'),
  command: text('command', { mode: 'json' }).$type<string[]>(),
  env: text('env', { mode: 'json' }).$type<StoredEnv[]>().notNull(),
  cpu: real('cpu').notNull(),
  memory: real('memory').notNull(),
  gpu: integer('gpu').notNull().default(0),
  storage: real('storage'),
  ports: text('ports', { mode: 'json' }).$type<StoredPort[]>().notNull(),
  healthCheck: text('health_check', { mode: 'json' }).$type<StoredHealthCheck>(),
  status: text('status', { enum: APP_STATUSES }).notNull(),
  statusReason: text('status_reason'),
  instances: integer('instances').notNull().default(1),
  runningOn: text('running_on', { mode: 'json' }).$type<string[]>().notNull(),
  lastDeployed: integer('last_deployed'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export type ApplicationRow = typeof applications.$inferSelect;
export type NewApplicationRow = typeof applications.$inferInsert;
