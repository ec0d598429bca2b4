/**
 * Tables owned by the resources module (migration owner `resources`). Migrations:
 * `node_modules/.bin/drizzle-kit generate --config core/domain/resources/drizzle.config.ts`.
 * Times are Unix milliseconds; quantities are base units (cores, bytes, cards).
 *
 * Credentials are stored only sealed (SecretBox, AES-256-GCM) with the context
 * `resource:<id>:<field>`, so a ciphertext copied into another row or column does not open.
 */
import { integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { RESOURCE_STATUSES, RESOURCE_TYPES } from './types.ts';

export const resources = sqliteTable('resources', {
  /** `res_` + 20 hex digits. */
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  type: text('type', { enum: RESOURCE_TYPES }).notNull(),
  /** Normalised URL as the client gave it (host not replaced by its address). */
  url: text('url').notNull(),
  builtin: integer('builtin', { mode: 'boolean' }).notNull().default(false),
  status: text('status', { enum: RESOURCE_STATUSES }).notNull(),
  statusReason: text('status_reason'),

  // What the engine reported at the last successful refresh; null until then.
  capacityCpu: real('capacity_cpu'),
  capacityMemory: integer('capacity_memory'),
  capacityGpu: integer('capacity_gpu'),
  capacityStorage: integer('capacity_storage'),
  capacityDescription: text('capacity_description'),

  // Operator caps below the engine's capacity.
  limitCpu: real('limit_cpu'),
  limitMemory: integer('limit_memory'),
  limitGpu: integer('limit_gpu'),

  description: text('description'),
  tags: text('tags', { mode: 'json' }).$type<string[]>().notNull(),
  location: text('location'),

  // Sealed credentials (never plaintext) and the non-secret connection settings.
  tokenSealed: text('token_sealed'),
  tlsCaSealed: text('tls_ca_sealed'),
  tlsCertSealed: text('tls_cert_sealed'),
  tlsKeySealed: text('tls_key_sealed'),
  tlsSkipVerify: integer('tls_skip_verify', { mode: 'boolean' }).notNull().default(false),
  sshUser: text('ssh_user'),
  sshPort: integer('ssh_port'),
  sshKeySealed: text('ssh_key_sealed'),
  sshPasswordSealed: text('ssh_password_sealed'),
  /** OpenSSH fingerprint (`SHA256:…`) the VM's host key must have. */
  sshHostKey: text('ssh_host_key'),
  /** kubernetes: the namespace its pods go to; null → the runner's configured default. */
  namespace: text('namespace'),

  /**
   * Bumped whenever the URL, the namespace or a credential changes: cached runners and in-flight
   * refreshes of an older version are discarded.
   */
  configVersion: integer('config_version').notNull().default(1),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
  /** Last successful capacity refresh (createdAt until the first one). */
  lastUpdated: integer('last_updated').notNull(),
});

/** Small facts the module keeps, e.g. that the admin deleted the built-in resource. */
export const resourceMeta = sqliteTable('resource_meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export type ResourceRow = typeof resources.$inferSelect;
export type NewResourceRow = typeof resources.$inferInsert;
