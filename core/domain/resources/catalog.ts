/**
 * The resource catalog: stores resources with their credentials sealed, validates what admins
 * send (URL rules per type, the outbound address policy, credentials per type), tests
 * connections through the runner registry, keeps one live Runner per resource, and tracks
 * reachability. It implements the ResourceCatalog contract (types.ts) other modules use, plus
 * what the HTTP routes need.
 *
 * Status rules: a successful capacity read → `connected` (capacity and lastUpdated stored);
 * a resource that cannot be reached → `unreachable` with a generic reason, nothing else touched;
 * anything unusable as configured (not an engine of its type, credentials that no longer
 * decrypt, no runner for its type, an address the policy refuses) → `error` with a reason.
 * 'resource:changed' fires on every status change.
 */
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { ApiError, badRequest, conflict, type FieldError, notFound } from '../../kernel/errors.ts';
import type { PluginHooks } from '../../kernel/hooks.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { SqliteDb } from '../../runtime/types.ts';
import {
  type MeasuredUsage,
  type ResourceConnection,
  type Runner,
  type RunnerTypes,
  RunnerUnreachableError,
} from '../../slots/runner.ts';
import type { Storage } from '../../slots/storage.ts';
import { type AddressPolicy, AddressRefusedError, AddressUnresolvedError } from '../address-policy.ts';
import type { LedgerReader, Usage } from '../ledger/types.ts';
import { type SecretBox, SecretDecryptError } from '../secret-box.ts';
import { failure, type ProbeOutcome, probeCapacity } from './connection-test.ts';
import {
  checkAddress,
  parseResourceUrl,
  pinnedUrl,
  type ResourceEndpoint,
  ResourceUrlError,
} from './endpoint.ts';
import type { CreateResourceInput, TestConnectionInput, UpdateResourceInput } from './model.ts';
import { type NewResourceRow, type ResourceRow, resourceMeta, resources } from './schema.ts';
import type { ResourceCatalog, ResourceRecord, ResourceStatus, ResourceType } from './types.ts';

export const GiB = 2 ** 30;
const UNDECRYPTABLE = 'stored credentials cannot be decrypted';
const REFRESH_CONCURRENCY = 4;
const BUILTIN_NAME: Record<ResourceType, string> = {
  docker: 'local-docker',
  kubernetes: 'local-kubernetes',
  vm: 'local-vm',
};
const tombstoneKey = (type: string) => `builtin-removed:${type}`;

export const newResourceId = () => `res_${randomBytes(10).toString('hex')}`;

// ------------------------------------------------------------------ credentials in flight

/** A credential either just received (plaintext, to be sealed) or kept from the row (sealed). */
type Secret = { plain: string } | { sealed: string };

interface Settings {
  type: ResourceType;
  url: string;
  token?: Secret;
  tls: { ca?: Secret; cert?: Secret; key?: Secret; skipVerify: boolean };
  ssh?: { username?: string; port?: number; privateKey?: Secret; password?: Secret; hostKey?: string };
  /** kubernetes: where its pods go; undefined → the runner's configured default. */
  namespace?: string;
}

/** Settings that passed every check, with the normal URL and the SSH user/port resolved. */
interface Prepared {
  settings: Settings;
  endpoint: ResourceEndpoint;
  url: string;
  sshUser?: string;
  sshPort?: number;
}

/** Why a resource cannot be used right now; `reason` is safe to show and store. */
class Unusable extends Error {
  readonly status: 'unreachable' | 'error';
  constructor(status: 'unreachable' | 'error', reason: string) {
    super(reason);
    this.status = status;
  }
}

/**
 * The resource list, prepared once: Drizzle otherwise rebuilds the SQL and SQLite re-prepares it
 * on each call (bench/admission.ts).
 */
function prepareReads(db: SqliteDb) {
  return {
    list: db.select().from(resources).orderBy(resources.createdAt, resources.id).prepare(),
  };
}

const noRunner = (type: string) => `no runner for type ${type} is installed`;

export interface ResourceServiceOptions {
  storage: Storage;
  box: SecretBox;
  policy: AddressPolicy;
  types: RunnerTypes;
  hooks: PluginHooks;
  logger: Logger;
  /** The ledger, when one is loaded (looked up at call time: it is set up after this module). */
  ledger: () => LedgerReader | undefined;
  /** Bound for one connection test or refresh. */
  testTimeoutMs: number;
}

interface CachedRunner {
  version: number;
  /** Address the runner is pinned to (undefined for sockets and built-in resources). */
  address?: string;
  runner: Runner;
}

export class ResourceService implements ResourceCatalog {
  readonly #o: ResourceServiceOptions;
  readonly #runners = new Map<string, CachedRunner>();
  readonly #opening = new Map<string, Promise<CachedRunner>>();
  readonly #refreshing = new Map<string, Promise<ResourceRecord>>();
  /** The last measured usage per resource (runners with usage()); memory only, refreshed with capacity. */
  readonly #measured = new Map<string, MeasuredUsage>();
  #closed = false;
  /** The rows as last read (#rows), tagged with the write generation they were read in. */
  #cache: { gen: number; rows: Promise<ResourceRow[]> } | undefined;
  #gen = 0;

  constructor(opts: ResourceServiceOptions) {
    this.#o = opts;
  }

  get #db(): SqliteDb {
    return this.#o.storage.db;
  }

  #prepared?: ReturnType<typeof prepareReads>;
  get #reads() {
    this.#prepared ??= prepareReads(this.#db);
    return this.#prepared;
  }

  // ---------------------------------------------------------------- ResourceCatalog

  async list(): Promise<ResourceRecord[]> {
    return (await this.#rows()).map((row) => this.#withMeasured(toRecord(row)));
  }

  /**
   * Every row, from memory while nothing was written since they were read. Every POST /run reads
   * the list and its chosen row, and every write to this table goes through #write on this one
   * process's connection, so the copy cannot go stale: each write drops it once committed. The
   * generation makes a read that was in flight during a write never be kept.
   */
  #rows(): Promise<ResourceRow[]> {
    if (this.#cache?.gen === this.#gen) return this.#cache.rows;
    const gen = this.#gen;
    // Frozen: the rows are shared by every caller until the next write.
    const rows = Promise.resolve(this.#reads.list.all() as ResourceRow[] | Promise<ResourceRow[]>).then(
      (list) => list.map((row) => Object.freeze(row)),
    );
    this.#cache = { gen, rows };
    rows.catch(() => {
      if (this.#cache?.rows === rows) this.#cache = undefined;
    });
    return rows;
  }

  /** A write transaction on the resources table: the in-memory rows are dropped once it ends. */
  #write<T>(fn: (db: SqliteDb) => Promise<T>): Promise<T> {
    return this.#o.storage.transaction(fn).finally(() => this.#dropRows());
  }

  #dropRows(): void {
    this.#gen++;
    this.#cache = undefined;
  }

  async get(id: string): Promise<ResourceRecord | undefined> {
    const row = await this.#row(id);
    return row ? this.#withMeasured(toRecord(row)) : undefined;
  }

  #withMeasured(record: ResourceRecord): ResourceRecord {
    const measured = this.#measured.get(record.id);
    // Only while connected: a sample from before it became unreachable would pass for current.
    return measured && record.status === 'connected' ? { ...record, measured } : record;
  }

  /**
   * The live Runner of a resource. Throws 404 for an unknown id, RunnerUnreachableError when it
   * cannot be reached (name does not resolve), and 409 RESOURCE_UNUSABLE (after marking the
   * resource `error`) when it cannot be used as configured.
   */
  async runner(id: string): Promise<Runner> {
    const row = await this.#row(id);
    if (!row) throw notFound(`Resource ${id}`);
    try {
      return (await this.#cachedRunner(row)).runner;
    } catch (err) {
      const outcome = this.#outcomeOf(err, row.type);
      if (outcome.ok) throw err;
      await this.#applyOutcome(row, outcome);
      if (outcome.status === 'unreachable') throw new RunnerUnreachableError(outcome.reason);
      throw new ApiError(
        409,
        'RESOURCE_UNUSABLE',
        'Resource unusable',
        `Resource "${row.name}" cannot be used: ${outcome.reason}`,
      );
    }
  }

  /** Read capacity from the engine now; concurrent calls for one resource share one probe. */
  refresh(id: string): Promise<ResourceRecord> {
    const pending = this.#refreshing.get(id);
    if (pending) return pending;
    const work = this.#refreshOnce(id).finally(() => this.#refreshing.delete(id));
    this.#refreshing.set(id, work);
    return work;
  }

  async markUnreachable(id: string, reason: string): Promise<void> {
    const row = await this.#row(id);
    if (!row) return;
    const clean = cleanReason(reason) || 'cannot be reached';
    if (row.status === 'unreachable' && row.statusReason === clean) return;
    await this.#applyOutcome(row, { ok: false, status: 'unreachable', reason: clean });
  }

  // ---------------------------------------------------------------- usage (ledger)

  /** Active usage per resource; empty when no ledger is loaded. */
  async usage(): Promise<Map<string, Usage>> {
    const ledger = this.#o.ledger();
    return ledger ? ledger.usageByResource() : new Map();
  }

  // ---------------------------------------------------------------- test / create / update / delete

  /** Test a connection without saving anything. 400 for invalid input, 422 for a type without runner. */
  async test(input: TestConnectionInput): Promise<ProbeOutcome> {
    const prepared = await this.#prepare(settingsFromInput(input), { checkAddress: true });
    this.#requireRunnerType(prepared.settings.type);
    return this.#probe(newResourceId(), prepared);
  }

  /**
   * Create a resource and test its connection. A failing test still saves it (status
   * unreachable/error with the reason) unless `verify`: then 422 and nothing is saved.
   */
  async create(input: CreateResourceInput, opts: { verify: boolean }): Promise<ResourceRecord> {
    const prepared = await this.#prepare(settingsFromInput(input), { checkAddress: true });
    this.#requireRunnerType(prepared.settings.type);
    await this.#assertNameFree(input.name);

    const id = newResourceId();
    const outcome = await this.#probe(id, prepared);
    if (opts.verify && !outcome.ok) throw connectionFailed(outcome.reason);

    const now = Date.now();
    const row: NewResourceRow = {
      id,
      name: input.name,
      type: prepared.settings.type,
      url: prepared.url,
      builtin: false,
      tags: uniqueTags(input.tags ?? []),
      description: input.description ?? null,
      location: input.location ?? null,
      ...limitColumns(input.limits),
      ...this.#credentialColumns(id, prepared),
      ...outcomeColumns(outcome, now),
      configVersion: 1,
      createdAt: now,
      updatedAt: now,
      lastUpdated: now,
    };
    await this.#write(async (db) => {
      await assertNameFreeIn(db, input.name);
      await db.insert(resources).values(row);
    });
    const record = (await this.get(id))!;
    await this.#notify(record, 'created');
    return record;
  }

  /**
   * Partial update: omitted fields keep their value, `null` clears. A change of URL, type,
   * namespace or credentials re-tests the connection (`verify`: 422 and nothing changed when it fails).
   * Stored secrets are never sent to another endpoint: when the URL changes, each stored secret
   * must be sent again or cleared with null.
   */
  async update(id: string, patch: UpdateResourceInput, opts: { verify: boolean }): Promise<ResourceRecord> {
    const row = await this.#row(id);
    if (!row) throw notFound(`Resource ${id}`);
    // A built-in resource takes its connection from the node: only metadata may change.
    if (row.builtin) refuseBuiltinChanges(row, patch);
    // The namespace is part of the connection: pods of an older runner live in the old one.
    const connectionPatched =
      !row.builtin &&
      (patch.type !== undefined ||
        patch.url !== undefined ||
        patch.token !== undefined ||
        patch.tls !== undefined ||
        patch.ssh !== undefined ||
        patch.namespace !== undefined);

    let prepared: Prepared | undefined;
    let outcome: ProbeOutcome | undefined;
    if (connectionPatched) {
      prepared = await this.#prepare(mergeSettings(row, patch), { checkAddress: true });
      refuseSecretsToNewEndpoint(row, prepared);
      this.#requireRunnerType(prepared.settings.type);
    }
    if (patch.name !== undefined && patch.name !== row.name) await this.#assertNameFree(patch.name);
    if (prepared) {
      outcome = await this.#probe(id, prepared);
      if (opts.verify && !outcome.ok) throw connectionFailed(outcome.reason);
    }

    const now = Date.now();
    const set: Partial<NewResourceRow> = { updatedAt: now };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.location !== undefined) set.location = patch.location;
    if (patch.tags !== undefined) set.tags = uniqueTags(patch.tags);
    if (patch.limits !== undefined) Object.assign(set, limitColumns(patch.limits ?? undefined));
    if (prepared) {
      Object.assign(set, { type: prepared.settings.type, url: prepared.url });
      Object.assign(set, this.#credentialColumns(id, prepared));
    }
    if (outcome) Object.assign(set, outcomeColumns(outcome, now));

    const updated = await this.#write(async (db) => {
      const [current] = await db.select().from(resources).where(eq(resources.id, id));
      if (!current) return undefined;
      if (set.name !== undefined && set.name !== current.name) await assertNameFreeIn(db, set.name);
      if (prepared) set.configVersion = current.configVersion + 1;
      await db.update(resources).set(set).where(eq(resources.id, id));
      return current;
    });
    if (!updated) throw notFound(`Resource ${id}`);
    if (prepared) await this.#dropRunner(id);

    const record = (await this.get(id))!;
    await this.#notify(record, 'updated');
    if (record.status !== updated.status) await this.#notify(record, 'status');
    return record;
  }

  /**
   * Delete: 'resource:deleting' first (a handler refuses with 409 while workloads run, unless
   * forced), then the row; its runner is closed. Deleting the built-in resource leaves a
   * tombstone so it is not registered again at the next start.
   */
  async delete(id: string, opts: { force: boolean }): Promise<ResourceRecord> {
    const row = await this.#row(id);
    if (!row) throw notFound(`Resource ${id}`);
    const record = toRecord(row);
    await this.#o.hooks.call('resource:deleting', record, { force: opts.force });
    const deleted = await this.#write(async (db) => {
      const [exists] = await db.select({ id: resources.id }).from(resources).where(eq(resources.id, id));
      if (!exists) return false;
      await db.delete(resources).where(eq(resources.id, id));
      if (row.builtin) {
        const key = tombstoneKey(row.type);
        const value = new Date().toISOString();
        await db
          .insert(resourceMeta)
          .values({ key, value })
          .onConflictDoUpdate({ target: resourceMeta.key, set: { value } });
      }
      return true;
    });
    if (!deleted) throw notFound(`Resource ${id}`);
    await this.#dropRunner(id);
    await this.#notify(record, 'deleted');
    return record;
  }

  // ---------------------------------------------------------------- built-in resource, refresh loop

  /**
   * Register the node's own engine (standalone: the local Docker engine; k8s: the cluster) when
   * a runner detects it and no built-in resource of that type exists — unless an admin deleted
   * it before (tombstone). A detected URL that changed since the last start is updated.
   */
  async ensureBuiltin(mode: 'standalone' | 'k8s'): Promise<ResourceRecord | undefined> {
    const type: ResourceType = mode === 'k8s' ? 'kubernetes' : 'docker';
    const log = this.#o.logger;
    const factory = this.#o.types.get(type);
    if (!factory?.detectDefault) {
      log.info({ type }, `no ${type} runner that detects a local engine is installed; no built-in resource`);
      return undefined;
    }
    const rows = await this.#db.select().from(resources).where(eq(resources.type, type));
    const existing = rows.find((r) => r.builtin);
    const [tombstone] = await this.#db
      .select()
      .from(resourceMeta)
      .where(eq(resourceMeta.key, tombstoneKey(type)));
    if (!existing && tombstone) {
      log.info(
        { type, deletedAt: tombstone.value },
        `the built-in ${type} resource was deleted by an admin; not registering it again`,
      );
      return undefined;
    }
    let detected: ResourceConnection | undefined;
    try {
      detected = await withTimeout(factory.detectDefault(), this.#o.testTimeoutMs);
    } catch (err) {
      log.info({ type, err: errorName(err) }, `detecting the local ${type} engine failed`);
    }
    if (!detected) {
      if (!existing)
        log.info({ type }, `no local ${type} engine found; continuing without a built-in resource`);
      return existing ? toRecord(existing) : undefined;
    }
    const namespace = detectedNamespace(type, detected);
    if (existing) {
      if (existing.url !== detected.url || existing.namespace !== namespace) {
        await this.#write(async (db) => {
          await db
            .update(resources)
            .set({
              url: detected.url,
              namespace,
              configVersion: existing.configVersion + 1,
              updatedAt: Date.now(),
            })
            .where(eq(resources.id, existing.id));
        });
        await this.#dropRunner(existing.id);
        log.info(
          { id: existing.id, url: detected.url, ...(namespace ? { namespace } : {}) },
          `the local ${type} engine moved; built-in resource updated`,
        );
      }
      return this.get(existing.id);
    }
    if (rows.some((r) => r.url === detected.url)) {
      log.info(
        { type, url: detected.url },
        `the local ${type} engine is already a resource; not adding it twice`,
      );
      return undefined;
    }

    const id = newResourceId();
    const now = Date.now();
    const created = await this.#write(async (db) => {
      const taken = new Set((await db.select({ name: resources.name }).from(resources)).map((r) => r.name));
      const base = BUILTIN_NAME[type];
      const name = [base, ...Array.from({ length: 8 }, (_, i) => `${base}-${i + 2}`)].find(
        (n) => !taken.has(n),
      );
      if (!name) return false;
      await db.insert(resources).values({
        id,
        name,
        type,
        url: detected.url,
        namespace,
        builtin: true,
        status: 'disconnected',
        tags: [],
        description: `This node's own ${type} engine`,
        configVersion: 1,
        createdAt: now,
        updatedAt: now,
        lastUpdated: now,
      });
      return true;
    });
    if (!created) return undefined;
    log.info({ id, type, url: detected.url }, `registered the local ${type} engine as a built-in resource`);
    await this.#notify((await this.get(id))!, 'created');
    return this.refresh(id);
  }

  /** Refresh every resource, a few at a time; never throws. */
  async refreshAll(): Promise<void> {
    const ids = (await this.#db.select({ id: resources.id }).from(resources)).map((r) => r.id);
    let next = 0;
    const worker = async () => {
      while (next < ids.length && !this.#closed) {
        const id = ids[next++]!;
        try {
          await this.refresh(id);
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) {
            this.#o.logger.warn({ id, err: errorName(err) }, 'refreshing a resource failed');
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(REFRESH_CONCURRENCY, ids.length) }, worker));
  }

  /** Close every runner; later refreshes do nothing. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#refreshing.values()]);
    await Promise.allSettled([...this.#opening.values()]);
    const all = [...this.#runners.values()];
    this.#runners.clear();
    await Promise.allSettled(all.map((c) => c.runner.close()));
  }

  // ---------------------------------------------------------------- internals: validation

  /**
   * Check settings against the URL rules and per-type credential rules (400 with field errors);
   * with `checkAddress`, also the outbound policy (a refused address is a 400 on `url`; a name
   * that does not resolve now is accepted — the connection test reports it).
   */
  async #prepare(settings: Settings, opts: { checkAddress: boolean }): Promise<Prepared> {
    const { type } = settings;
    let endpoint: ResourceEndpoint;
    try {
      endpoint = parseResourceUrl(type, settings.url);
    } catch (err) {
      if (err instanceof ResourceUrlError) throw fieldError('url', err.message);
      throw err;
    }
    const fields: FieldError[] = [];
    const tls = settings.tls;
    const hasTls = !!(tls.ca || tls.cert || tls.key || tls.skipVerify);
    const tlsCapable = type === 'kubernetes' || (type === 'docker' && endpoint.scheme !== 'unix');
    if (hasTls && !tlsCapable) {
      fields.push({
        path: 'tls',
        message: 'TLS settings apply to tcp:// or https:// docker and kubernetes resources',
      });
    }
    if (!!tls.cert !== !!tls.key) {
      fields.push({
        path: tls.cert ? 'tls.key' : 'tls.cert',
        message: 'a client certificate needs both cert and key',
      });
    }
    if (settings.ssh && type !== 'vm')
      fields.push({ path: 'ssh', message: 'only vm resources take ssh settings' });
    if (settings.namespace !== undefined && type !== 'kubernetes')
      fields.push({ path: 'namespace', message: 'only kubernetes resources take a namespace' });

    let url = endpoint.url;
    let sshUser: string | undefined;
    let sshPort: number | undefined;
    if (type === 'vm' && endpoint.scheme === 'ssh') {
      const ssh = settings.ssh ?? {};
      sshUser = endpoint.user ?? ssh.username;
      if (!sshUser) {
        fields.push({ path: 'ssh.username', message: 'a vm needs a user: ssh://user@host or ssh.username' });
      } else if (endpoint.user && ssh.username && endpoint.user !== ssh.username) {
        fields.push({ path: 'ssh.username', message: 'differs from the user in the URL' });
      }
      if (endpoint.explicitPort && ssh.port !== undefined && ssh.port !== endpoint.port) {
        fields.push({ path: 'ssh.port', message: 'differs from the port in the URL' });
      }
      sshPort = endpoint.explicitPort ? endpoint.port : (ssh.port ?? endpoint.port);
      if (!ssh.privateKey && !ssh.password && !settings.token) {
        fields.push({ path: 'ssh', message: 'a vm needs ssh.privateKey or ssh.password' });
      }
      endpoint = { ...endpoint, port: sshPort, explicitPort: true, ...(sshUser ? { user: sshUser } : {}) };
      url = pinnedUrl(endpoint, endpoint.host);
    }
    if (fields.length)
      throw badRequest(`The request body is invalid: ${fields[0]!.path}: ${fields[0]!.message}`, fields);

    if (opts.checkAddress) {
      try {
        await checkAddress(endpoint, this.#o.policy, this.#o.testTimeoutMs);
      } catch (err) {
        if (err instanceof AddressRefusedError && !(err instanceof AddressUnresolvedError)) {
          throw fieldError('url', err.message);
        }
        if (!(err instanceof AddressUnresolvedError)) throw err;
      }
    }
    return {
      settings,
      endpoint,
      url,
      ...(sshUser ? { sshUser } : {}),
      ...(sshPort !== undefined ? { sshPort } : {}),
    };
  }

  #requireRunnerType(type: string): void {
    if (!this.#o.types.get(type)) {
      throw new ApiError(422, 'NO_RUNNER', 'No runner for this type', noRunner(type));
    }
  }

  async #assertNameFree(name: string): Promise<void> {
    await assertNameFreeIn(this.#db, name);
  }

  // ---------------------------------------------------------------- internals: runners

  /** Build a runner for `prepared` under `id`, ask it for capacity, close it. */
  async #probe(id: string, prepared: Prepared): Promise<ProbeOutcome> {
    let opened: CachedRunner | undefined;
    try {
      opened = await this.#open(id, prepared, 0);
      return await probeCapacity(opened.runner, prepared.settings.type, this.#o.testTimeoutMs);
    } catch (err) {
      return this.#outcomeOf(err, prepared.settings.type, prepared.settings);
    } finally {
      void opened?.runner.close().catch(() => undefined);
    }
  }

  async #cachedRunner(row: ResourceRow): Promise<CachedRunner> {
    const cached = this.#runners.get(row.id);
    if (cached && cached.version === row.configVersion) return cached;
    const key = `${row.id}@${row.configVersion}`;
    const pending = this.#opening.get(key);
    if (pending) return pending;
    const work = (async () => {
      const opened = await this.#openRow(row);
      const old = this.#runners.get(row.id);
      if (this.#closed) {
        await opened.runner.close().catch(() => undefined);
        throw new RunnerUnreachableError('the resources module is stopping');
      }
      this.#runners.set(row.id, opened);
      if (old && old.runner !== opened.runner) void old.runner.close().catch(() => undefined);
      return opened;
    })().finally(() => this.#opening.delete(key));
    this.#opening.set(key, work);
    return work;
  }

  /** A runner for a stored row: built-in ones from the runner's detection, others from the row. */
  async #openRow(row: ResourceRow): Promise<CachedRunner> {
    const factory = this.#o.types.get(row.type);
    if (!factory) throw new Unusable('error', noRunner(row.type));
    if (row.builtin) {
      const detected = factory.detectDefault
        ? await withTimeout(factory.detectDefault(), this.#o.testTimeoutMs).catch(() => undefined)
        : undefined;
      if (!detected) throw new Unusable('unreachable', `the local ${row.type} engine is not detected`);
      return { version: row.configVersion, runner: createRunner(factory, { ...detected, id: row.id }) };
    }
    const prepared = await this.#prepareStored(row);
    return this.#open(row.id, prepared, row.configVersion);
  }

  async #prepareStored(row: ResourceRow): Promise<Prepared> {
    const settings = settingsFromRow(row);
    try {
      return await this.#prepare(settings, { checkAddress: false });
    } catch (err) {
      // The row was valid when saved; a refusal now comes from a changed policy.
      if (err instanceof ApiError) {
        const reason = err.fields?.[0]?.message ?? err.details;
        throw new Unusable('error', `the resource URL is no longer accepted: ${cleanReason(reason)}`);
      }
      throw err;
    }
  }

  /** Resolve and check the host, pin the connection to the checked address, create the runner. */
  async #open(id: string, prepared: Prepared, version: number): Promise<CachedRunner> {
    const { settings, endpoint } = prepared;
    const factory = this.#o.types.get(settings.type);
    if (!factory) throw new Unusable('error', noRunner(settings.type));
    const checked = await checkAddress(endpoint, this.#o.policy, this.#o.testTimeoutMs);
    const open = (secret: Secret | undefined, field: string) =>
      secret === undefined
        ? undefined
        : 'plain' in secret
          ? secret.plain
          : this.#unseal(id, field, secret.sealed);

    const connection: ResourceConnection = {
      id,
      type: settings.type,
      url: pinnedUrl(endpoint, checked?.address),
    };
    const token = open(settings.token, 'token');
    if (token !== undefined) connection.token = token;
    const t = settings.tls;
    if (t.ca || t.cert || t.key || t.skipVerify) {
      connection.tls = {
        ...(t.ca ? { ca: open(t.ca, 'tls.ca')! } : {}),
        ...(t.cert ? { cert: open(t.cert, 'tls.cert')! } : {}),
        ...(t.key ? { key: open(t.key, 'tls.key')! } : {}),
        ...(t.skipVerify ? { skipVerify: true } : {}),
      };
    }
    if (settings.type === 'vm' && prepared.sshUser) {
      const s = settings.ssh ?? {};
      connection.ssh = {
        username: prepared.sshUser,
        ...(prepared.sshPort !== undefined ? { port: prepared.sshPort } : {}),
        ...(s.privateKey ? { privateKey: open(s.privateKey, 'ssh.privateKey')! } : {}),
        ...(s.password ? { password: open(s.password, 'ssh.password')! } : {}),
      };
    }
    const options: Record<string, unknown> = {};
    // The connection goes to the checked address; TLS still verifies the name the admin gave.
    if (endpoint.scheme !== 'unix' && !endpoint.isIp) options.servername = endpoint.host;
    if (settings.ssh?.hostKey) options.ssh_host_key = settings.ssh.hostKey;
    if (settings.type === 'kubernetes' && settings.namespace) options.namespace = settings.namespace;
    if (Object.keys(options).length) connection.options = options;

    const runner = createRunner(factory, connection);
    return { version, runner, ...(checked ? { address: checked.address } : {}) };
  }

  #unseal(id: string, field: string, sealed: string): string {
    return this.#o.box.decrypt(sealed, context(id, field));
  }

  async #dropRunner(id: string): Promise<void> {
    const cached = this.#runners.get(id);
    this.#runners.delete(id);
    this.#measured.delete(id);
    await cached?.runner
      .close()
      .catch((err) => this.#o.logger.debug({ id, err: errorName(err) }, 'closing a runner failed'));
  }

  async #refreshOnce(id: string): Promise<ResourceRecord> {
    // A refresh (on the timer, or asked for) reads the row afresh too: a database changed under
    // the running node (restored, edited) is noticed within one refresh interval.
    this.#dropRows();
    const row = await this.#row(id);
    if (!row) throw notFound(`Resource ${id}`);
    if (this.#closed) return toRecord(row);
    let outcome: ProbeOutcome;
    let measured: MeasuredUsage | undefined;
    try {
      const cached = await this.#cachedRunner(row);
      await this.#recheckAddress(row, cached);
      const current = this.#runners.get(id) ?? cached;
      outcome = await probeCapacity(current.runner, row.type, this.#o.testTimeoutMs);
      if (outcome.ok) measured = await this.#measure(id, current.runner);
    } catch (err) {
      outcome = this.#outcomeOf(err, row.type);
    }
    if (measured) this.#measured.set(id, measured);
    else this.#measured.delete(id);
    await this.#applyOutcome(row, outcome);
    return (await this.get(id)) ?? toRecord(row);
  }

  /**
   * The runner's measured usage, bounded like the capacity probe. Advisory: any failure is "no
   * measurement" (logged at debug), never a status change.
   */
  async #measure(id: string, runner: Runner): Promise<MeasuredUsage | undefined> {
    if (!runner.usage) return undefined;
    try {
      const m = await withTimeout(runner.usage(), this.#o.testTimeoutMs);
      return m && sane(m) ? m : undefined;
    } catch (err) {
      this.#o.logger.debug({ id, err: errorName(err) }, 'reading measured usage failed');
      return undefined;
    }
  }

  /**
   * The name may point elsewhere now: resolve again; a refused answer stops here, a new address
   * gets a new runner (the old one is closed).
   */
  async #recheckAddress(row: ResourceRow, cached: CachedRunner): Promise<void> {
    if (row.builtin || cached.address === undefined) return;
    const prepared = await this.#prepareStored(row);
    const checked = await checkAddress(prepared.endpoint, this.#o.policy, this.#o.testTimeoutMs);
    if (checked && !checked.all.includes(cached.address)) {
      const fresh = await this.#open(row.id, prepared, row.configVersion);
      this.#runners.set(row.id, fresh);
      void cached.runner.close().catch(() => undefined);
    }
  }

  #outcomeOf(err: unknown, type: string, settings?: Settings): ProbeOutcome {
    if (err instanceof Unusable) return { ok: false, status: err.status, reason: err.message };
    if (err instanceof SecretDecryptError) return { ok: false, status: 'error', reason: UNDECRYPTABLE };
    if (err instanceof AddressUnresolvedError)
      return { ok: false, status: 'unreachable', reason: err.message };
    if (err instanceof AddressRefusedError) return { ok: false, status: 'error', reason: err.message };
    if (err instanceof CreateError) {
      // Written by the runner about our settings, before any connection: safe once secrets are scrubbed.
      const message = scrub(err.message, settings);
      return { ok: false, status: 'error', reason: `invalid connection settings: ${cleanReason(message)}` };
    }
    if (err instanceof RunnerUnreachableError) return failure(err, type);
    this.#o.logger.warn({ err: errorName(err) }, 'unexpected error while testing a resource');
    return failure(err, type);
  }

  /** Store the outcome unless the resource was deleted or reconfigured meanwhile; notify on status change. */
  async #applyOutcome(row: ResourceRow, outcome: ProbeOutcome): Promise<void> {
    const set = outcomeColumns(outcome, Date.now());
    const before = await this.#write(async (db) => {
      const [current] = await db
        .select({ status: resources.status, configVersion: resources.configVersion })
        .from(resources)
        .where(eq(resources.id, row.id));
      if (!current || current.configVersion !== row.configVersion) return undefined;
      await db.update(resources).set(set).where(eq(resources.id, row.id));
      return current.status;
    });
    if (before !== undefined && before !== set.status) {
      const record = await this.get(row.id);
      if (record) await this.#notify(record, 'status');
    }
  }

  async #notify(record: ResourceRecord, change: 'created' | 'updated' | 'deleted' | 'status'): Promise<void> {
    try {
      await this.#o.hooks.call('resource:changed', record, change);
    } catch (err) {
      // A listener's failure must not undo or fail the change itself.
      this.#o.logger.warn(
        { id: record.id, change, err: errorName(err) },
        'a resource:changed handler failed',
      );
    }
  }

  async #row(id: string): Promise<ResourceRow | undefined> {
    return (await this.#rows()).find((r) => r.id === id);
  }

  #credentialColumns(id: string, prepared: Prepared): Partial<NewResourceRow> {
    const { settings } = prepared;
    const seal = (secret: Secret | undefined, field: string) =>
      secret === undefined
        ? null
        : 'sealed' in secret
          ? secret.sealed
          : this.#o.box.encrypt(secret.plain, context(id, field));
    const ssh = settings.ssh;
    return {
      tokenSealed: seal(settings.token, 'token'),
      tlsCaSealed: seal(settings.tls.ca, 'tls.ca'),
      tlsCertSealed: seal(settings.tls.cert, 'tls.cert'),
      tlsKeySealed: seal(settings.tls.key, 'tls.key'),
      tlsSkipVerify: settings.tls.skipVerify,
      sshUser: prepared.sshUser ?? null,
      sshPort: prepared.sshPort ?? null,
      sshKeySealed: seal(ssh?.privateKey, 'ssh.privateKey'),
      sshPasswordSealed: seal(ssh?.password, 'ssh.password'),
      sshHostKey: ssh?.hostKey ?? null,
      namespace: settings.type === 'kubernetes' ? (settings.namespace ?? null) : null,
    };
  }
}

// ------------------------------------------------------------------ helpers

/** factory.create() failed: about our settings, not the endpoint's answer. */
class CreateError extends Error {
  override name = 'CreateError';
}

function createRunner(
  factory: { create(c: ResourceConnection): Runner },
  connection: ResourceConnection,
): Runner {
  try {
    return factory.create(connection);
  } catch (err) {
    throw new CreateError(err instanceof Error ? err.message : String(err));
  }
}

/** The namespace a detected (built-in) cluster connection works in, kept on the row to show it. */
function detectedNamespace(type: ResourceType, detected: ResourceConnection): string | null {
  const ns = detected.options?.namespace;
  return type === 'kubernetes' && typeof ns === 'string' && ns ? ns : null;
}

/** AAD for a sealed credential: the row and the field, so ciphertext moved elsewhere does not open. */
const context = (id: string, field: string) => `resource:${id}:${field}`;

function fieldError(path: string, message: string): ApiError {
  return badRequest(`The request body is invalid: ${path}: ${message}`, [{ path, message }]);
}

function connectionFailed(reason: string): ApiError {
  return new ApiError(422, 'CONNECTION_FAILED', 'Connection test failed', reason);
}

function settingsFromInput(input: CreateResourceInput | TestConnectionInput): Settings {
  const plain = (s: string | undefined): Secret | undefined => (s === undefined ? undefined : { plain: s });
  const settings: Settings = {
    type: input.type,
    url: input.url,
    tls: {
      ca: plain(input.tls?.ca),
      cert: plain(input.tls?.cert),
      key: plain(input.tls?.key),
      skipVerify: input.tls?.skipVerify ?? false,
    },
  };
  const token = plain(input.token);
  if (token) settings.token = token;
  if (input.namespace !== undefined) settings.namespace = input.namespace;
  if (input.ssh) {
    settings.ssh = {
      username: input.ssh.username,
      ...(input.ssh.port !== undefined ? { port: input.ssh.port } : {}),
      ...(input.ssh.privateKey !== undefined ? { privateKey: { plain: input.ssh.privateKey } } : {}),
      ...(input.ssh.password !== undefined ? { password: { plain: input.ssh.password } } : {}),
      ...(input.ssh.hostKey !== undefined ? { hostKey: input.ssh.hostKey } : {}),
    };
  }
  return settings;
}

function settingsFromRow(row: ResourceRow): Settings {
  const sealed = (s: string | null): Secret | undefined => (s === null ? undefined : { sealed: s });
  const settings: Settings = {
    type: row.type,
    url: row.url,
    tls: {
      ca: sealed(row.tlsCaSealed),
      cert: sealed(row.tlsCertSealed),
      key: sealed(row.tlsKeySealed),
      skipVerify: row.tlsSkipVerify,
    },
  };
  const token = sealed(row.tokenSealed);
  if (token) settings.token = token;
  if (row.namespace !== null) settings.namespace = row.namespace;
  if (row.type === 'vm') {
    settings.ssh = {
      ...(row.sshUser ? { username: row.sshUser } : {}),
      ...(row.sshPort !== null ? { port: row.sshPort } : {}),
      ...(row.sshKeySealed ? { privateKey: { sealed: row.sshKeySealed } } : {}),
      ...(row.sshPasswordSealed ? { password: { sealed: row.sshPasswordSealed } } : {}),
      ...(row.sshHostKey ? { hostKey: row.sshHostKey } : {}),
    };
  }
  return settings;
}

/** Stored settings with a PUT body applied: given → replaced, null → cleared, omitted → kept. */
function mergeSettings(row: ResourceRow, patch: UpdateResourceInput): Settings {
  const stored = settingsFromRow(row);
  const pick = (given: string | null | undefined, kept: Secret | undefined): Secret | undefined =>
    given === undefined ? kept : given === null ? undefined : { plain: given };
  const out: Settings = {
    type: patch.type ?? stored.type,
    url: patch.url ?? stored.url,
    tls: { skipVerify: false },
  };
  const token = pick(patch.token, stored.token);
  if (token) out.token = token;
  const namespace = patch.namespace === undefined ? stored.namespace : (patch.namespace ?? undefined);
  if (namespace !== undefined) out.namespace = namespace;
  if (patch.tls !== null) {
    const t = patch.tls ?? {};
    out.tls = {
      ca: pick(t.ca, stored.tls.ca),
      cert: pick(t.cert, stored.tls.cert),
      key: pick(t.key, stored.tls.key),
      skipVerify: t.skipVerify ?? stored.tls.skipVerify,
    };
  }
  if (patch.ssh !== null && (patch.ssh !== undefined || stored.ssh)) {
    const s = patch.ssh ?? {};
    const kept = stored.ssh ?? {};
    // The URL carries the user and port once saved; a new URL brings its own.
    const urlChanged = patch.url !== undefined;
    const username = s.username ?? (urlChanged ? undefined : kept.username);
    const port = s.port === null ? undefined : (s.port ?? (urlChanged ? undefined : kept.port));
    const privateKey = pick(s.privateKey, kept.privateKey);
    const password = pick(s.password, kept.password);
    const hostKey = s.hostKey === null ? undefined : (s.hostKey ?? kept.hostKey);
    out.ssh = {
      ...(username ? { username } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(privateKey ? { privateKey } : {}),
      ...(password ? { password } : {}),
      ...(hostKey ? { hostKey } : {}),
    };
    if (!Object.keys(out.ssh).length) delete out.ssh;
  }
  return out;
}

/** A stored secret goes only to the endpoint it was given for. */
function refuseSecretsToNewEndpoint(row: ResourceRow, prepared: Prepared): void {
  if (prepared.url === row.url && prepared.settings.type === row.type) return;
  const s = prepared.settings;
  const kept: [string, Secret | undefined][] = [
    ['token', s.token],
    ['tls.key', s.tls.key],
    ['ssh.privateKey', s.ssh?.privateKey],
    ['ssh.password', s.ssh?.password],
  ];
  const fields = kept
    .filter(([, secret]) => secret !== undefined && 'sealed' in secret)
    .map(([path]) => ({
      path,
      message:
        'the URL changed: send this credential again, or null to remove it (stored credentials never go to another endpoint)',
    }));
  if (fields.length)
    throw badRequest(`The request body is invalid: ${fields[0]!.path}: ${fields[0]!.message}`, fields);
}

function refuseBuiltinChanges(row: ResourceRow, patch: UpdateResourceInput): void {
  const fields: FieldError[] = [];
  if (patch.url !== undefined && patch.url !== row.url) {
    fields.push({ path: 'url', message: 'the URL of a built-in resource cannot be changed' });
  }
  if (patch.type !== undefined && patch.type !== row.type) {
    fields.push({ path: 'type', message: 'the type of a built-in resource cannot be changed' });
  }
  // Its namespace too: the ServiceAccount's.
  for (const key of ['token', 'tls', 'ssh', 'namespace'] as const) {
    if (patch[key] !== undefined) {
      fields.push({ path: key, message: 'a built-in resource takes its connection from the node itself' });
    }
  }
  if (fields.length)
    throw badRequest(`The request body is invalid: ${fields[0]!.path}: ${fields[0]!.message}`, fields);
}

async function assertNameFreeIn(db: SqliteDb, name: string): Promise<void> {
  const [taken] = await db.select({ id: resources.id }).from(resources).where(eq(resources.name, name));
  if (taken) throw conflict(`A resource named "${name}" already exists`);
}

function outcomeColumns(
  outcome: ProbeOutcome,
  now: number,
): Partial<NewResourceRow> & { status: ResourceStatus } {
  if (!outcome.ok) return { status: outcome.status, statusReason: outcome.reason };
  const c = outcome.capacity;
  return {
    status: 'connected',
    statusReason: null,
    capacityCpu: c.cpu,
    capacityMemory: c.memory,
    capacityGpu: c.gpu,
    capacityStorage: c.storage ?? null,
    capacityDescription: c.description ?? null,
    lastUpdated: now,
  };
}

function limitColumns(limits: CreateResourceInput['limits'] | undefined): Partial<NewResourceRow> {
  return {
    limitCpu: limits?.cpu ?? null,
    limitMemory: limits?.memory !== undefined ? Math.round(limits.memory * GiB) : null,
    limitGpu: limits?.gpu ?? null,
  };
}

function uniqueTags(tags: string[]): string[] {
  return [...new Set(tags)];
}

const cleanReason = (s: string) =>
  s
    .replace(/\p{Cc}+/gu, ' ')
    .trim()
    .slice(0, 300);

/** Remove any plaintext credential from a message (a runner might quote a setting). */
function scrub(message: string, settings?: Settings): string {
  if (!settings) return message;
  const plains = [
    settings.token,
    settings.tls.key,
    settings.tls.cert,
    settings.tls.ca,
    settings.ssh?.privateKey,
    settings.ssh?.password,
  ].flatMap((s) => (s && 'plain' in s && s.plain.length >= 4 ? [s.plain] : []));
  let out = message;
  for (const p of plains) out = out.split(p).join('[redacted]');
  return out;
}

/** Only the error's class and code go to logs: messages may quote what an endpoint answered. */
function errorName(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${err.name} (${code})` : err.name;
  }
  return typeof err;
}

/** A measurement that can be shown: finite, non-negative numbers and a valid time. */
function sane(m: MeasuredUsage): boolean {
  const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  return ok(m.cpu) && ok(m.memory) && ok(m.count) && !Number.isNaN(Date.parse(m.at));
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function toRecord(row: ResourceRow): ResourceRecord {
  const iso = (ms: number) => new Date(ms).toISOString();
  const record: ResourceRecord = {
    id: row.id,
    name: row.name,
    type: row.type,
    url: row.url,
    status: row.status,
    tags: row.tags ?? [],
    credentials: {
      token: row.tokenSealed !== null,
      tlsCa: row.tlsCaSealed !== null,
      tlsCert: row.tlsCertSealed !== null,
      tlsKey: row.tlsKeySealed !== null,
      tlsSkipVerify: row.tlsSkipVerify,
      sshKey: row.sshKeySealed !== null,
      sshPassword: row.sshPasswordSealed !== null,
      ...(row.sshUser ? { sshUser: row.sshUser } : {}),
      ...(row.sshPort !== null ? { sshPort: row.sshPort } : {}),
      ...(row.sshHostKey ? { sshHostKey: row.sshHostKey } : {}),
    },
    builtin: row.builtin,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
    lastUpdated: iso(row.lastUpdated),
  };
  if (row.statusReason) record.statusReason = row.statusReason;
  if (row.capacityCpu !== null && row.capacityMemory !== null) {
    record.capacity = {
      cpu: row.capacityCpu,
      memory: row.capacityMemory,
      gpu: row.capacityGpu ?? 0,
      ...(row.capacityStorage !== null ? { storage: row.capacityStorage } : {}),
      ...(row.capacityDescription ? { description: row.capacityDescription } : {}),
    };
  }
  if (row.limitCpu !== null || row.limitMemory !== null || row.limitGpu !== null) {
    record.limits = {
      ...(row.limitCpu !== null ? { cpu: row.limitCpu } : {}),
      ...(row.limitMemory !== null ? { memory: row.limitMemory } : {}),
      ...(row.limitGpu !== null ? { gpu: row.limitGpu } : {}),
    };
  }
  if (row.description) record.description = row.description;
  if (row.location) record.location = row.location;
  if (row.namespace) record.namespace = row.namespace;
  return record;
}
