/**
 * The application catalog: stores the design document's Application (section 5.2) with secret
 * environment values and the Git token sealed, checks Git URLs and branches through the Git
 * service (when the git plugin is loaded), and inspects repositories for the quick import.
 *
 * Every refusal happens before anything is written: a 400 leaves no row and no directory.
 */
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { ApiError, badRequest, conflict, notFound, unavailable } from '../../kernel/errors.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { SqliteDb } from '../../runtime/types.ts';
import { GitFetchError, GitInputError, type GitService, type RepoInfo } from '../../slots/git.ts';
import type { Storage } from '../../slots/storage.ts';
import { type SecretBox, SecretDecryptError } from '../secret-box.ts';
import type { ApplicationOut, CreateApplicationInput, EnvInputT, UpdateApplicationInput } from './model.ts';
import { type ApplicationRow, type AppStatus, applications, type StoredEnv } from './schema.ts';

export const newApplicationId = () => `app_${randomBytes(10).toString('hex')}`;

const envContext = (id: string, name: string) => `application:${id}:env:${name}`;
const tokenContext = (id: string) => `application:${id}:gitToken`;
const iso = (ms: number) => new Date(ms).toISOString();

const FETCH_CODES: Record<GitFetchError['reason'], string> = {
  'not-found': 'GIT_NOT_FOUND',
  unreachable: 'GIT_UNREACHABLE',
  timeout: 'GIT_TIMEOUT',
  'too-large': 'GIT_TOO_LARGE',
  failed: 'GIT_FAILED',
};

/** Git failures as client errors: the input or the repository it names cannot be used. */
export function gitApiError(err: unknown): unknown {
  if (err instanceof GitInputError) {
    return badRequest(`${err.field}: ${err.message}`, [{ path: err.field, message: err.message }]);
  }
  if (err instanceof GitFetchError) {
    return new ApiError(400, FETCH_CODES[err.reason], 'Git repository could not be read', err.message);
  }
  return err;
}

/** When no git plugin is loaded: still refuse anything but a plain https URL. */
function basicGitUrlCheck(url: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    // reported below
  }
  if (!u) throw new GitInputError('gitUrl', 'gitUrl is not a valid URL');
  if (
    u.protocol !== 'https:' ||
    u.username ||
    u.password ||
    !u.hostname ||
    u.search ||
    u.hash ||
    /[\s\p{Cc}]/u.test(url)
  ) {
    throw new GitInputError('gitUrl', 'gitUrl must be an https URL without credentials, query or fragment');
  }
  return u.toString();
}

function hostOf(url: string): string {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return '';
  }
}

export interface ApplicationServiceOptions {
  storage: Storage;
  box: SecretBox;
  git: () => GitService | undefined;
  logger: Logger;
  /** Called after every status change (deploy, stop, restart, failures), for the event stream. */
  onStatus?: (change: StatusChange) => void;
}

export interface StatusChange {
  id: string;
  name: string;
  status: AppStatus;
  previous: AppStatus;
  reason?: string;
}

export class ApplicationService {
  readonly #o: ApplicationServiceOptions;

  constructor(o: ApplicationServiceOptions) {
    this.#o = o;
  }

  get #db(): SqliteDb {
    return this.#o.storage.db;
  }

  // ---------------------------------------------------------------- reading

  async list(): Promise<ApplicationOut[]> {
    return (await this.rows()).map((r) => this.toOut(r));
  }

  /** Every stored row, oldest first. */
  async rows(): Promise<ApplicationRow[]> {
    return this.#db.select().from(applications).orderBy(applications.createdAt, applications.id);
  }

  async row(id: string): Promise<ApplicationRow> {
    const [row] = await this.#db.select().from(applications).where(eq(applications.id, id));
    if (!row) throw notFound(`Application ${id}`);
    return row;
  }

  async get(id: string): Promise<ApplicationOut> {
    return this.toOut(await this.row(id));
  }

  /** The Git token of an application, opened; undefined when none (or it no longer decrypts). */
  gitToken(row: ApplicationRow): string | undefined {
    if (!row.gitTokenSealed) return undefined;
    try {
      return this.#o.box.decrypt(row.gitTokenSealed, tokenContext(row.id));
    } catch (err) {
      if (err instanceof SecretDecryptError) {
        this.#o.logger.warn({ app: row.id }, 'the stored Git token cannot be decrypted');
        return undefined;
      }
      throw err;
    }
  }

  /** Environment with secrets opened, for starting containers. Undecryptable values are an error. */
  openEnv(row: ApplicationRow): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of row.env) {
      if ('value' in e) out[e.name] = e.value;
      else {
        try {
          out[e.name] = this.#o.box.decrypt(e.sealed, envContext(row.id, e.name));
        } catch (err) {
          if (err instanceof SecretDecryptError) {
            throw new ApiError(
              409,
              'SECRET_UNREADABLE',
              'Conflict',
              `the secret environment variable ${e.name} cannot be decrypted; set it again`,
            );
          }
          throw err;
        }
      }
    }
    return out;
  }

  toOut(r: ApplicationRow): ApplicationOut {
    const env: ApplicationOut['env'] = {};
    for (const e of r.env) env[e.name] = 'value' in e ? e.value : { secret: true };
    return {
      id: r.id,
      name: r.name,
      description: r.description,
      gitUrl: r.gitUrl,
      branch: r.branch,
      ...(r.commitHash ? { commitHash: r.commitHash } : {}),
      hasGitToken: r.gitTokenSealed !== null,
      type: r.type,
      ...(r.image ? { image: r.image } : {}),
      ...(r.command ? { command: r.command } : {}),
      env,
      resources: {
        cpu: r.cpu,
        memory: r.memory,
        gpu: r.gpu,
        ...(r.storage !== null ? { storage: r.storage } : {}),
      },
      ports: r.ports,
      ...(r.healthCheck ? { healthCheck: r.healthCheck } : {}),
      status: r.status,
      ...(r.statusReason ? { statusReason: r.statusReason } : {}),
      instances: r.instances,
      runningOn: r.runningOn,
      ...(r.lastDeployed !== null ? { lastDeployed: iso(r.lastDeployed) } : {}),
      createdAt: iso(r.createdAt),
      updatedAt: iso(r.updatedAt),
    };
  }

  // ---------------------------------------------------------------- checks

  #checkGit(url: string, branch: string | undefined): string {
    try {
      const git = this.#o.git();
      if (git) return git.validate(url, branch);
      if (branch !== undefined && (branch.startsWith('-') || !/^[A-Za-z0-9._/+-]+$/.test(branch))) {
        throw new GitInputError('branch', 'branch is not a valid Git ref name');
      }
      return basicGitUrlCheck(url);
    } catch (err) {
      throw gitApiError(err);
    }
  }

  #env(id: string, input: EnvInputT, previous: StoredEnv[] = []): StoredEnv[] {
    const old = new Map(previous.map((e) => [e.name, e]));
    const out: StoredEnv[] = [];
    for (const [name, val] of Object.entries(input)) {
      if (typeof val === 'string') {
        out.push({ name, value: val });
        continue;
      }
      if (val.value === undefined) {
        const kept = old.get(name);
        if (val.secret && kept && 'sealed' in kept) {
          out.push(kept);
          continue;
        }
        throw badRequest(`env.${name}: a value is required`, [
          {
            path: `env.${name}.value`,
            message: 'a value is required (only a stored secret may be kept without one)',
          },
        ]);
      }
      out.push(
        val.secret
          ? { name, sealed: this.#o.box.encrypt(val.value, envContext(id, name)) }
          : { name, value: val.value },
      );
    }
    return out;
  }

  async #nameFree(db: SqliteDb, name: string, except?: string): Promise<void> {
    const [taken] = await db
      .select({ id: applications.id })
      .from(applications)
      .where(eq(applications.name, name));
    if (taken && taken.id !== except) throw conflict(`An application named "${name}" already exists`);
  }

  // ---------------------------------------------------------------- writing

  async create(input: CreateApplicationInput): Promise<ApplicationOut> {
    const id = newApplicationId();
    const gitUrl = input.gitUrl ? this.#checkGit(input.gitUrl, input.branch) : '';
    if (!gitUrl && input.branch !== undefined) this.#checkGit('https://example.invalid/x', input.branch);
    if (input.gitToken && !gitUrl) {
      throw badRequest('gitToken: a token needs a gitUrl', [
        { path: 'gitToken', message: 'a token needs a gitUrl' },
      ]);
    }
    const env = this.#env(id, input.env ?? {});
    const now = Date.now();
    const row: ApplicationRow = {
      id,
      name: input.name,
      description: input.description ?? '',
      gitUrl,
      branch: input.branch ?? 'main',
      commitHash: input.commitHash ?? null,
      gitTokenSealed: input.gitToken ? this.#o.box.encrypt(input.gitToken, tokenContext(id)) : null,
      type: input.type,
      image: input.image ?? null,
      command: input.command ?? null,
      env,
      cpu: input.resources.cpu,
      memory: input.resources.memory,
      gpu: input.resources.gpu ?? 0,
      storage: input.resources.storage ?? null,
      ports: (input.ports ?? []).map((p) => ({ ...p, protocol: p.protocol ?? 'TCP' })),
      healthCheck: input.healthCheck ?? null,
      status: 'idle',
      statusReason: null,
      instances: input.instances ?? 1,
      runningOn: [],
      lastDeployed: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.#o.storage.transaction(async (db) => {
      await this.#nameFree(db, row.name);
      await db.insert(applications).values(row);
    });
    this.#o.logger.info({ app: id, name: row.name, gitUrl: row.gitUrl || undefined }, 'application created');
    return this.toOut(row);
  }

  async update(id: string, input: UpdateApplicationInput): Promise<ApplicationOut> {
    const current = await this.row(id);
    const set: Partial<ApplicationRow> = {};
    const gitUrlChanged = input.gitUrl !== undefined && input.gitUrl !== current.gitUrl;
    if (input.gitUrl !== undefined || input.branch !== undefined) {
      const url = input.gitUrl ?? current.gitUrl;
      const branch = input.branch ?? current.branch;
      if (url) set.gitUrl = this.#checkGit(url, branch);
      else if (input.branch !== undefined) this.#checkGit('https://example.invalid/x', input.branch);
      else set.gitUrl = '';
      if (input.branch !== undefined) set.branch = input.branch;
    }
    // A token belongs to one host: moving the URL elsewhere must not carry it along silently.
    if (
      gitUrlChanged &&
      current.gitTokenSealed &&
      input.gitToken === undefined &&
      hostOf(set.gitUrl ?? '') !== hostOf(current.gitUrl)
    ) {
      throw badRequest('gitToken: the Git host changed; send the token for the new host again, or null', [
        { path: 'gitToken', message: 'required when gitUrl moves to another host (or null to drop it)' },
      ]);
    }
    if (input.gitToken !== undefined) {
      set.gitTokenSealed =
        input.gitToken === null ? null : this.#o.box.encrypt(input.gitToken, tokenContext(id));
    }
    const finalUrl = set.gitUrl ?? current.gitUrl;
    const finalImage = input.image === undefined ? current.image : input.image;
    if (!finalUrl && !finalImage) throw badRequest('give a gitUrl, an image, or both');
    if (!finalUrl && (set.gitTokenSealed ?? current.gitTokenSealed) && input.gitToken !== null) {
      throw badRequest('gitToken: a token needs a gitUrl', [
        { path: 'gitToken', message: 'a token needs a gitUrl' },
      ]);
    }
    if (input.name !== undefined) set.name = input.name;
    if (input.description !== undefined) set.description = input.description;
    if (input.commitHash !== undefined) set.commitHash = input.commitHash;
    else if (gitUrlChanged || input.branch !== undefined) set.commitHash = null;
    if (input.type !== undefined) set.type = input.type;
    if (input.image !== undefined) set.image = input.image;
    if (input.command !== undefined) set.command = input.command;
    if (input.env !== undefined) set.env = this.#env(id, input.env, current.env);
    if (input.resources !== undefined) {
      set.cpu = input.resources.cpu;
      set.memory = input.resources.memory;
      set.gpu = input.resources.gpu ?? 0;
      set.storage = input.resources.storage ?? null;
    }
    if (input.ports !== undefined)
      set.ports = input.ports.map((p) => ({ ...p, protocol: p.protocol ?? 'TCP' }));
    if (input.healthCheck !== undefined) set.healthCheck = input.healthCheck;
    if (input.instances !== undefined) set.instances = input.instances;
    set.updatedAt = Date.now();

    const updated = await this.#o.storage.transaction(async (db) => {
      const [row] = await db.select().from(applications).where(eq(applications.id, id));
      if (!row) throw notFound(`Application ${id}`);
      if (set.name !== undefined) await this.#nameFree(db, set.name, id);
      await db.update(applications).set(set).where(eq(applications.id, id));
      return { ...row, ...set } as ApplicationRow;
    });
    return this.toOut(updated);
  }

  async delete(id: string): Promise<void> {
    await this.#o.storage.transaction(async (db) => {
      const [row] = await db
        .select({ status: applications.status })
        .from(applications)
        .where(eq(applications.id, id));
      if (!row) throw notFound(`Application ${id}`);
      if (row.status === 'running' || row.status === 'deploying') {
        throw conflict(`The application is ${row.status}; stop it before deleting it`);
      }
      await db.delete(applications).where(eq(applications.id, id));
    });
    this.#o.logger.info({ app: id }, 'application deleted');
  }

  /**
   * Take the application for a deploy, stop or restart: its status must be one of `from`; it
   * becomes `to` in the same transaction, so two such operations never run at once. 409 otherwise.
   */
  async claim(id: string, from: AppStatus[], to: AppStatus): Promise<ApplicationRow> {
    return this.#o.storage
      .transaction(async (db) => {
        const [row] = await db.select().from(applications).where(eq(applications.id, id));
        if (!row) throw notFound(`Application ${id}`);
        if (!from.includes(row.status)) {
          throw conflict(
            row.status === 'deploying'
              ? 'Another deploy, stop or restart of this application is in progress'
              : `The application is ${row.status}`,
          );
        }
        await db
          .update(applications)
          .set({ status: to, statusReason: null, updatedAt: Date.now() })
          .where(eq(applications.id, id));
        return row;
      })
      .then((row) => {
        if (row.status !== to) this.#o.onStatus?.({ id, name: row.name, status: to, previous: row.status });
        return row;
      });
  }

  /** Applications left `deploying` by a crash or restart of this node. */
  async interrupted(): Promise<ApplicationRow[]> {
    return this.#db.select().from(applications).where(eq(applications.status, 'deploying'));
  }

  /** Set the status and what goes with it (deploy, stop, restart). */
  async setStatus(
    id: string,
    status: AppStatus,
    extra: { reason?: string | null; runningOn?: string[]; lastDeployed?: number; commitHash?: string } = {},
  ): Promise<void> {
    const before = await this.#o.storage.transaction(async (db) => {
      const [row] = await db
        .select({ status: applications.status, name: applications.name, reason: applications.statusReason })
        .from(applications)
        .where(eq(applications.id, id));
      await db
        .update(applications)
        .set({
          status,
          statusReason: extra.reason ?? null,
          ...(extra.runningOn ? { runningOn: extra.runningOn } : {}),
          ...(extra.lastDeployed ? { lastDeployed: extra.lastDeployed } : {}),
          ...(extra.commitHash ? { commitHash: extra.commitHash } : {}),
          updatedAt: Date.now(),
        })
        .where(eq(applications.id, id));
      return row;
    });
    const reason = extra.reason ?? undefined;
    if (before && (before.status !== status || (before.reason ?? undefined) !== reason)) {
      this.#o.onStatus?.({
        id,
        name: before.name,
        status,
        previous: before.status,
        ...(reason ? { reason } : {}),
      });
    }
  }

  // ---------------------------------------------------------------- Git import

  async parseGit(input: {
    gitUrl: string;
    branch?: string;
    gitToken?: string;
  }): Promise<RepoInfo & { detectedType: RepoInfo['type'] }> {
    const git = this.#o.git();
    if (!git)
      throw unavailable('Importing from Git needs the git plugin, which is not loaded', 'GIT_UNAVAILABLE');
    try {
      const info = await git.parse(
        input.gitUrl,
        input.branch,
        input.gitToken ? { token: input.gitToken } : undefined,
      );
      return { ...info, detectedType: info.type };
    } catch (err) {
      throw gitApiError(err);
    }
  }
}
