/**
 * The Git slot: reading application source from Git repositories users name. Provided by the
 * `git` plugin (plugins/git); used by the applications module to import and (later) build.
 *
 * Every URL and branch is untrusted input. Implementations refuse what they will not fetch with
 * {@link GitInputError} (the caller answers 400, nothing happened), and report fetches that
 * started but failed with {@link GitFetchError} (a generic, credential-free reason).
 */
import { serviceKey } from '../kernel/services.ts';

export const APP_TYPES = ['web', 'api', 'worker', 'database'] as const;
export type AppType = (typeof APP_TYPES)[number];

/** What a repository looks like, from its files (never by running anything in it). */
export interface RepoInfo {
  /** A name for the application derived from the URL (DNS-label style). */
  name: string;
  type: AppType;
  /** `docker`, `node`, `python`, `go`, `static`, or `unknown`. */
  runtime: string;
  /** The port the application most likely listens on, or null (workers). */
  defaultPort: number | null;
  /** 40 hex digits: the commit that was read. */
  commitHash: string;
  /** The branch that was read (the remote's default when none was asked for). */
  branch: string;
  /** A regular file named Dockerfile at the repository root (a symlink does not count). */
  hasDockerfile: boolean;
}

export interface GitAuth {
  /** An access token sent as HTTP Basic credentials (`x-access-token:<token>`), only over http(s). */
  token?: string;
}

export interface GitService {
  /**
   * Check a URL and branch without fetching anything: scheme allowed, no credentials or control
   * characters, branch a safe ref name. Throws GitInputError. Returns the URL as it will be used.
   */
  validate(url: string, branch?: string): string;
  /** Shallow-clone into a private temporary directory, inspect, remove. */
  parse(url: string, branch?: string, auth?: GitAuth): Promise<RepoInfo>;
  /** Shallow-clone `branch` into `dest` (which must lie inside the Git workspace and not exist). */
  checkout(
    url: string,
    branch: string,
    dest: string,
    auth?: GitAuth,
  ): Promise<{
    commitHash: string;
    /** Symlinks deleted because they led outside the checkout (paths relative to it). */
    removedSymlinks?: string[];
  }>;
  /** The directory clones live under (`git.workspace`). */
  readonly workspace: string;
}

/** The input is refused before anything is fetched. `field` is `gitUrl` or `branch`. */
export class GitInputError extends Error {
  override name = 'GitInputError';
  readonly field: 'gitUrl' | 'branch' | 'dest';
  constructor(field: 'gitUrl' | 'branch' | 'dest', message: string) {
    super(message);
    this.field = field;
  }
}

export type GitFetchFailure = 'unreachable' | 'not-found' | 'timeout' | 'too-large' | 'failed';

/** The fetch ran and failed. The message is safe to show: no URL credentials, no server output. */
export class GitFetchError extends Error {
  override name = 'GitFetchError';
  readonly reason: GitFetchFailure;
  constructor(reason: GitFetchFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

export const GitServiceKey = serviceKey<GitService>('git');
