/**
 * What kind of application a checkout holds, from a few files at its root. Nothing in the
 * checkout is executed. Files are opened only when lstat says they are regular files inside the
 * checkout: a symlink (e.g. `Dockerfile -> /etc/passwd`) is ignored and never read, and reads
 * are bounded so a huge file cannot exhaust memory.
 */
import { closeSync, constants, lstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { AppType } from '../../core/slots/git.ts';

const MAX_READ = 256 * 1024;

export interface Detected {
  type: AppType;
  runtime: string;
  defaultPort: number | null;
  hasDockerfile: boolean;
  /** Root files that were symlinks and therefore ignored (for the log). */
  ignoredSymlinks: string[];
}

/** A regular file at the root of `dir`, read up to MAX_READ bytes; undefined otherwise. */
function readRegular(dir: string, name: string, ignored: string[]): string | undefined {
  const path = join(dir, name);
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return undefined;
  }
  if (st.isSymbolicLink()) {
    ignored.push(name);
    return undefined;
  }
  if (!st.isFile()) return undefined;
  // O_NOFOLLOW: if the file was swapped for a symlink after lstat, open fails instead of following.
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(Math.min(MAX_READ, st.size));
    const n = buf.length ? readSync(fd, buf, 0, buf.length, 0) : 0;
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The first `EXPOSE` port of a Dockerfile. */
export function exposedPort(dockerfile: string): number | null {
  for (const line of dockerfile.split(/\r?\n/)) {
    const m = /^\s*EXPOSE\s+(\d{1,5})(?:\/(?:tcp|udp))?\b/i.exec(line);
    if (m) {
      const port = Number(m[1]);
      if (port >= 1 && port <= 65_535) return port;
    }
  }
  return null;
}

const NODE_WEB = [
  'next',
  'nuxt',
  'react-scripts',
  'vite',
  '@sveltejs/kit',
  'gatsby',
  '@angular/core',
  'astro',
];
const NODE_API = ['express', 'fastify', 'koa', 'hono', '@nestjs/core', '@hapi/hapi', 'restify'];

function nodeApp(text: string): Pick<Detected, 'type' | 'defaultPort'> {
  let deps: Record<string, unknown> = {};
  try {
    const pkg = JSON.parse(text) as { dependencies?: unknown; devDependencies?: unknown };
    deps = {
      ...(typeof pkg.devDependencies === 'object' ? (pkg.devDependencies as object) : {}),
      ...(typeof pkg.dependencies === 'object' ? (pkg.dependencies as object) : {}),
    };
  } catch {
    // A broken package.json is still a Node project; guess a worker.
  }
  if (NODE_WEB.some((d) => d in deps)) return { type: 'web', defaultPort: 3000 };
  if (NODE_API.some((d) => d in deps)) return { type: 'api', defaultPort: 3000 };
  return { type: 'worker', defaultPort: null };
}

function pythonApp(text: string): Pick<Detected, 'type' | 'defaultPort'> {
  const t = text.toLowerCase();
  const has = (name: string) => new RegExp(`(^|[\\s"'\\[,])${name}\\b`, 'm').test(t);
  if (has('streamlit')) return { type: 'web', defaultPort: 8501 };
  if (has('django')) return { type: 'web', defaultPort: 8000 };
  if (has('fastapi') || has('uvicorn')) return { type: 'api', defaultPort: 8000 };
  if (has('flask')) return { type: 'api', defaultPort: 5000 };
  return { type: 'worker', defaultPort: null };
}

function goApp(text: string): Pick<Detected, 'type' | 'defaultPort'> {
  if (/github\.com\/(gin-gonic\/gin|labstack\/echo|gofiber\/fiber|go-chi\/chi|gorilla\/mux)/.test(text)) {
    return { type: 'api', defaultPort: 8080 };
  }
  return { type: 'worker', defaultPort: null };
}

export function detect(dir: string): Detected {
  const ignored: string[] = [];
  const dockerfile = readRegular(dir, 'Dockerfile', ignored);
  const pkg = readRegular(dir, 'package.json', ignored);
  const requirements = readRegular(dir, 'requirements.txt', ignored);
  const pyproject = readRegular(dir, 'pyproject.toml', ignored);
  const gomod = readRegular(dir, 'go.mod', ignored);
  const index = readRegular(dir, 'index.html', ignored);

  let lang: { runtime: string; type: AppType; defaultPort: number | null } | undefined;
  if (pkg !== undefined) lang = { runtime: 'node', ...nodeApp(pkg) };
  else if (requirements !== undefined || pyproject !== undefined)
    lang = { runtime: 'python', ...pythonApp(`${requirements ?? ''}\n${pyproject ?? ''}`) };
  else if (gomod !== undefined) lang = { runtime: 'go', ...goApp(gomod) };
  else if (index !== undefined) lang = { runtime: 'static', type: 'web', defaultPort: 80 };

  if (dockerfile !== undefined) {
    const port = exposedPort(dockerfile);
    // The Dockerfile decides how it runs; the language files only refine the type.
    const type: AppType =
      lang && (lang.type !== 'worker' || port === null) ? lang.type : port ? 'web' : 'worker';
    return {
      runtime: 'docker',
      type,
      defaultPort: port ?? lang?.defaultPort ?? null,
      hasDockerfile: true,
      ignoredSymlinks: ignored,
    };
  }
  if (lang) return { ...lang, hasDockerfile: false, ignoredSymlinks: ignored };
  return {
    runtime: 'unknown',
    type: 'worker',
    defaultPort: null,
    hasDockerfile: false,
    ignoredSymlinks: ignored,
  };
}

/** An application name from the URL's last path segment: lower-case DNS label, max 63. */
export function nameFromUrl(url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // keep the raw text
  }
  const last = path.replace(/\/+$/, '').split('/').pop() ?? '';
  const name = last
    .replace(/\.git$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name || 'app';
}
