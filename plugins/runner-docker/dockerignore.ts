/**
 * The context's `.dockerignore`, applied the way the Docker CLI applies it before sending a build
 * context (so node_modules, build output and secrets listed there never leave the machine and do
 * not count against the context limit). Matching is @balena/dockerignore, a port of Docker's own
 * rules: patterns are relative to the context root, `*` does not cross `/`, `**` does, and `!`
 * re-includes. As with Docker, the Dockerfile and `.dockerignore` itself are always sent.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import dockerignore from '@balena/dockerignore';
import { ContextError } from './tar.ts';

// A CommonJS module (module.exports = factory) whose types declare an ES default export: the
// default import is the factory itself at run time on Node, Bun and Deno.
const ignore = dockerignore as unknown as typeof dockerignore.default;

/** A larger .dockerignore is refused rather than read: nobody writes 64 KiB of patterns. */
const MAX_BYTES = 64 * 1024;

export interface ContextFilter {
  /** Whether `path` (relative, '/'-separated) is left out of the context. */
  ignores(path: string): boolean;
  /**
   * Whether a left-out directory may still hold entries to send (a `!` pattern exists, or the
   * Dockerfile is inside it), so it must be walked; otherwise its whole subtree is skipped unread.
   */
  walkIgnored(dir: string): boolean;
}

/** The filter of `root`/.dockerignore; undefined when there is none (or it is not a regular file). */
export function readDockerignore(root: string, keep: string[]): ContextFilter | undefined {
  const file = join(root, '.dockerignore');
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(file);
  } catch {
    return undefined;
  }
  // A link could point anywhere on this machine: only a regular file in the context is read.
  if (!st.isFile()) return undefined;
  if (st.size > MAX_BYTES) throw new ContextError(`.dockerignore is larger than ${MAX_BYTES} bytes`);
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  let text: string;
  try {
    const size = Math.min(fstatSync(fd).size, MAX_BYTES);
    const buf = Buffer.alloc(size);
    readSync(fd, buf, 0, size, 0);
    text = buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
  const lines = text.split(/\r?\n/);
  const matcher = ignore().add(lines);
  const always = new Set(['.dockerignore', ...keep]);
  const exceptions = lines.some((l) => l.trim().startsWith('!'));
  return {
    ignores: (path) => !always.has(path) && matcher.ignores(path),
    walkIgnored: (dir) => exceptions || keep.some((k) => k.startsWith(`${dir}/`)),
  };
}
