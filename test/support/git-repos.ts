/**
 * Real Git repositories for tests: created with `git init` + commits in a temp dir, and served
 * on loopback by `git daemon` (git://) or `git http-backend` behind a tiny node:http CGI bridge
 * (http://). Also a server that accepts connections and never answers (time limits).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function hasGit(): boolean {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'test',
  GIT_AUTHOR_EMAIL: 'test@example.invalid',
  GIT_COMMITTER_NAME: 'test',
  GIT_COMMITTER_EMAIL: 'test@example.invalid',
};

export interface RepoFile {
  content?: string | Buffer;
  /** Make this path a symlink to the given target instead of a file. */
  symlink?: string;
}

/** A new repository under `base` named `name` with one commit on `branch` holding `files`. */
export function makeRepo(
  base: string,
  name: string,
  files: Record<string, string | Buffer | RepoFile>,
  branch = 'main',
): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  execFileSync('git', ['init', '-q', '-b', branch, dir], { env: GIT_ENV });
  for (const [path, spec] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    const f: RepoFile = typeof spec === 'string' || Buffer.isBuffer(spec) ? { content: spec } : spec;
    if (f.symlink !== undefined) symlinkSync(f.symlink, full);
    else writeFileSync(full, f.content ?? '');
  }
  execFileSync('git', ['-C', dir, 'add', '-A'], { env: GIT_ENV });
  execFileSync('git', ['-C', dir, 'commit', '-q', '-m', 'init'], { env: GIT_ENV });
  return dir;
}

/** Write one file in a repository made by makeRepo and commit it; returns the new commit. */
export function commitFile(dir: string, path: string, content: string): string {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), content);
  execFileSync('git', ['-C', dir, 'add', '-A'], { env: GIT_ENV });
  execFileSync('git', ['-C', dir, 'commit', '-q', '-m', `change ${path}`], { env: GIT_ENV });
  return headCommit(dir);
}

export function headCommit(dir: string): string {
  return execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { env: GIT_ENV }).toString().trim();
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** `git daemon` serving every repository under `base` at git://127.0.0.1:<port>/<name>. */
export async function startGitDaemon(base: string): Promise<{ url: (name: string) => string; stop(): void }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'git',
    [
      'daemon',
      '--export-all',
      '--reuseaddr',
      `--base-path=${base}`,
      '--listen=127.0.0.1',
      `--port=${port}`,
      base,
    ],
    { env: GIT_ENV, stdio: 'ignore' },
  );
  // Wait until it accepts connections.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error('git daemon did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: (name) => `git://127.0.0.1:${port}/${name}`,
    stop: () => child.kill('SIGKILL'),
  };
}

function gitExecPath(): string {
  return execFileSync('git', ['--exec-path']).toString().trim();
}

/**
 * `git http-backend` behind node:http (a CGI bridge): smart HTTP at
 * http://127.0.0.1:<port>/<name>. `requireToken` makes it answer 401 unless the request carries
 * `Authorization: Basic base64(x-access-token:<token>)`; every Authorization header seen is recorded.
 */
export async function startHttpBackend(
  base: string,
  opts: { requireToken?: string } = {},
): Promise<{
  url: (name: string) => string;
  authHeaders: string[];
  readonly requests: number;
  stop(): Promise<void>;
}> {
  const backend = join(gitExecPath(), 'git-http-backend');
  const authHeaders: string[] = [];
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const auth = req.headers.authorization;
    if (auth) authHeaders.push(auth);
    if (opts.requireToken) {
      const expected = `Basic ${Buffer.from(`x-access-token:${opts.requireToken}`).toString('base64')}`;
      if (auth !== expected) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' });
        res.end();
        return;
      }
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const child = spawn(backend, [], {
      env: {
        ...GIT_ENV,
        GIT_PROJECT_ROOT: base,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_ADDR: '127.0.0.1',
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(child.stdin);
    // Parse the CGI header block, then stream the body.
    let head = Buffer.alloc(0);
    let headerDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headerDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      let idx = head.indexOf('\r\n\r\n');
      let sepLen = 4;
      if (idx < 0) {
        idx = head.indexOf('\n\n');
        sepLen = 2;
      }
      if (idx < 0) return;
      headerDone = true;
      let status = 200;
      for (const line of head.subarray(0, idx).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
        else res.setHeader(k, v);
      }
      res.writeHead(status);
      res.write(head.subarray(idx + sepLen));
    });
    child.stdout.on('end', () => res.end());
    child.on('error', () => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    authHeaders,
    get requests() {
      return requests;
    },
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Accepts TCP connections and never says anything: a Git server that stalls. */
export async function startStallingServer(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
