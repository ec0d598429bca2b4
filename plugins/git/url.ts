/**
 * Checks on the Git URL and branch a user gives, before any process starts. Everything here is
 * syntax: the host's addresses are checked separately (AddressPolicy) just before cloning.
 *
 * Git interprets many spellings besides URLs: `ext::<command>` runs a command, `host:path` is
 * ssh, a leading `-` becomes an option (`--upload-pack=...`), `ssh://-oProxyCommand=...` passes
 * an option to ssh. Only absolute URLs of an allowed scheme are accepted, so none of those can
 * reach git; the URL is also passed after `--`, and protocol.allow restricts git itself.
 */
import { GitInputError } from '../../core/slots/git.ts';
import type { GitScheme } from './config.ts';

export const MAX_URL_LENGTH = 2048;
export const MAX_BRANCH_LENGTH = 255;

export interface CheckedUrl {
  /** The URL to hand to git (normalised, no userinfo). */
  url: string;
  scheme: GitScheme;
  /** Host name or IP literal without brackets; empty for file://. */
  host: string;
  /** Explicit or default port; 0 for file://. */
  port: number;
}

const DEFAULT_PORT: Record<GitScheme, number> = { https: 443, http: 80, git: 9418, file: 0 };

/** The URL with any userinfo removed: the only form that may be logged, stored or shown. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    // Not a URL: hide anything that looks like `user:secret@`.
    return raw.replace(/\/\/[^/@\s]*@/g, '//');
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export function checkUrl(raw: string, allowed: readonly GitScheme[]): CheckedUrl {
  const fail = (why: string) => new GitInputError('gitUrl', why);
  if (typeof raw !== 'string' || raw.length === 0) throw fail('gitUrl is required');
  if (raw.length > MAX_URL_LENGTH) throw fail(`gitUrl must be at most ${MAX_URL_LENGTH} characters`);
  if (CONTROL.test(raw)) throw fail('gitUrl must not contain control characters (CR, LF, NUL, ...)');
  if (raw.startsWith('-')) throw fail('gitUrl must not start with "-"');
  // `ext::cmd`, `fd::`, and any other remote-helper spelling `<transport>::<address>`.
  if (raw.includes('::')) throw fail('remote helper URLs (such as ext::) are not allowed');
  if (/\s/.test(raw)) throw fail('gitUrl must not contain spaces');
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(raw);
  if (!m) throw fail(`gitUrl must be an absolute URL such as https://host/owner/repo.git`);
  const scheme = m[1]!.toLowerCase();
  if (!(allowed as readonly string[]).includes(scheme)) {
    throw fail(`the scheme "${scheme}" is not allowed; allowed: ${allowed.join(', ')}`);
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw fail('gitUrl is not a valid URL');
  }
  if (u.username || u.password) {
    throw fail('gitUrl must not contain credentials; send an access token in gitToken instead');
  }
  if (u.search || u.hash) throw fail('gitUrl must not have a query string or fragment');
  const s = scheme as GitScheme;
  if (s === 'file') {
    if (u.host && u.host !== 'localhost') throw fail('file:// URLs must not name a host');
    const path = decodeURIComponent(u.pathname);
    if (!path.startsWith('/') || path.split('/').includes('..') || CONTROL.test(path)) {
      throw fail('file:// URLs need an absolute path without ".."');
    }
    return { url: `file://${u.pathname}`, scheme: s, host: '', port: 0 };
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw fail('gitUrl must name a host');
  // Host names git and curl agree on: letters, digits, dots, hyphens; or an IP literal.
  if (!/^[a-zA-Z0-9.-]+$/.test(host) && !/^[0-9a-fA-F:.]+$/.test(host)) {
    throw fail('gitUrl has an invalid host name');
  }
  if (host.startsWith('-') || host.startsWith('.')) throw fail('gitUrl has an invalid host name');
  if (u.pathname === '/' || u.pathname === '') throw fail('gitUrl must name a repository path');
  const port = u.port ? Number(u.port) : DEFAULT_PORT[s];
  return { url: u.toString(), scheme: s, host, port };
}

/**
 * A branch (or tag) name: git's ref rules, narrowed. Refused: a leading `-` (would be an
 * option), `..`, `@{`, `//`, a trailing `/`, `.` or `.lock`, control characters, spaces and
 * the characters git forbids (`~^:?*[\`).
 */
export function checkBranch(branch: string): string {
  const fail = (why: string) => new GitInputError('branch', why);
  if (typeof branch !== 'string' || branch.length === 0) throw fail('branch must not be empty');
  if (branch.length > MAX_BRANCH_LENGTH) throw fail(`branch must be at most ${MAX_BRANCH_LENGTH} characters`);
  if (branch.startsWith('-')) throw fail('branch must not start with "-"');
  if (!/^[A-Za-z0-9._/+-]+$/.test(branch)) {
    throw fail('branch may only contain letters, digits and . _ / + -');
  }
  if (
    branch.includes('..') ||
    branch.includes('//') ||
    branch.startsWith('/') ||
    branch.endsWith('/') ||
    branch.endsWith('.') ||
    branch.endsWith('.lock') ||
    branch.split('/').some((part) => part.startsWith('.'))
  ) {
    throw fail('branch is not a valid Git ref name');
  }
  return branch;
}
