/**
 * A private Docker engine for fault tests: its own socket, data root, exec root and pid file in
 * a temp folder, so a test may stop and restart it without touching the shared engine at
 * /var/run/docker.sock.
 *
 *   const missing = privateDockerdMissing();        // a reason, or undefined
 *   const engine = await startPrivateDockerd();     // waits until /_ping answers (bounded)
 *   await engine.importTestImage();                 // TEST_IMAGE, imported from busybox-static
 *   await engine.stop();                            // SIGTERM to the pid this helper started
 *   await engine.start();                           // same folders: live-restore brings containers back
 *   await engine.destroy();                         // containers removed, engine stopped, folder gone
 *
 * Flags: `--storage-driver=vfs --bridge=none --iptables=false --ip-masq=false --live-restore`:
 * no host networking is touched, and containers keep running while the engine is down.
 * Only the dockerd this helper spawned is ever signalled.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { imageExists, TEST_IMAGE } from './docker-env.ts';

const BUILD_SCRIPT = fileURLToPath(new URL('./build-test-image.sh', import.meta.url));
const DOCKERD = ['/usr/sbin/dockerd', '/usr/bin/dockerd'];

export interface PrivateDockerd {
  /** Temp folder holding socket, data root, exec root, pid file and log. */
  readonly dir: string;
  readonly socketPath: string;
  /** `unix://<socketPath>`, the URL a resource points at. */
  readonly url: string;
  /** dockerode client on the private socket. */
  readonly docker: Docker;
  /** Pid of the running dockerd this helper started, if one runs. */
  pid(): number | undefined;
  /** Start (again) on the same folders; resolves once /_ping answers. */
  start(timeoutMs?: number): Promise<void>;
  /** SIGTERM the dockerd this helper started and wait until it has exited (SIGKILL after the bound). */
  stop(timeoutMs?: number): Promise<void>;
  /** Import TEST_IMAGE into this engine (busybox-static rootfs → docker import). */
  importTestImage(): Promise<void>;
  /** Remove every container, stop the engine, unmount and delete the folder. Never throws. */
  destroy(): Promise<void>;
  /** The engine's log so far (for failure messages). */
  log(): string;
}

/** Why a private dockerd cannot run here, or undefined when it can. */
export function privateDockerdMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'a private dockerd needs root';
  if (!DOCKERD.some(existsSync)) return 'dockerd is not installed (apt-get install docker.io)';
  if (!existsSync('/usr/bin/containerd')) return 'containerd is not installed (apt-get install docker.io)';
  return undefined;
}

function ping(socketPath: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mount points at or below `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)));
  return [...new Set(mounts)].sort((a, b) => b.length - a.length);
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv, timeout = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { env: env ?? process.env, timeout, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err)
          reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`.trim()));
        else resolve(`${stdout}${stderr}`);
      },
    );
  });
}

export async function startPrivateDockerd(opts: { timeoutMs?: number } = {}): Promise<PrivateDockerd> {
  const missing = privateDockerdMissing();
  if (missing) throw new Error(`cannot start a private dockerd: ${missing}`);
  const dockerd = DOCKERD.find(existsSync)!;
  // Short path: the socket path (and containerd's under the exec root) must fit in sun_path.
  const dir = mkdtempSync('/tmp/iarnet-dd-');
  const socketPath = join(dir, 'd.sock');
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'exec');
  const pidFile = join(dir, 'dockerd.pid');
  const logFile = join(dir, 'dockerd.log');
  const configFile = join(dir, 'daemon.json');
  mkdirSync(dataRoot);
  mkdirSync(execRoot);
  // An empty config file: the host's /etc/docker/daemon.json must not shape this engine.
  writeFileSync(configFile, '{}\n');

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (timeoutMs = opts.timeoutMs ?? 30_000) => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    const out = openSync(logFile, 'a');
    // In its own network namespace: with --bridge=none, dockerd deletes any existing docker0 bridge
    // at start-up, which would break the shared engine every other test uses. unshare execs
    // dockerd in place, so the pid (and the signals sent to it) stay dockerd's.
    child = spawn(
      'unshare',
      [
        '--net',
        '--',
        dockerd,
        '--host',
        `unix://${socketPath}`,
        '--data-root',
        dataRoot,
        '--exec-root',
        execRoot,
        '--pidfile',
        pidFile,
        '--config-file',
        configFile,
        '--storage-driver=vfs',
        '--bridge=none',
        '--iptables=false',
        '--ip-masq=false',
        '--live-restore',
      ],
      { stdio: ['ignore', out, out], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } },
    );
    closeSync(out);
    const proc = child;
    exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(
          `private dockerd exited (${proc.exitCode ?? proc.signalCode}) while starting:\n${tail()}`,
        );
      }
      if (await ping(socketPath)) return;
      await sleep(200);
    }
    throw new Error(`private dockerd did not answer at ${socketPath} within ${timeoutMs} ms:\n${tail()}`);
  };

  const stop = async (timeoutMs = 20_000) => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timedOut = await Promise.race([exited.then(() => false), sleep(timeoutMs).then(() => true)]);
    if (timedOut) {
      proc.kill('SIGKILL');
      await Promise.race([exited, sleep(5_000)]);
    }
  };

  const tail = () => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '(no log)';
    }
  };

  const docker = new Docker({ socketPath });
  const engine: PrivateDockerd = {
    dir,
    socketPath,
    url: `unix://${socketPath}`,
    docker,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    start,
    stop,
    async importTestImage() {
      // Retried: the script can exit 1 without a word when `busybox | head -n1` dies of SIGPIPE
      // under `set -o pipefail` (a race; see the version= line of build-test-image.sh).
      for (let attempt = 1; ; attempt++) {
        try {
          await run('bash', [BUILD_SCRIPT], {
            ...process.env,
            DOCKER_HOST: `unix://${socketPath}`,
            IARNET_TEST_IMAGE: TEST_IMAGE,
          });
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
        }
      }
      if (!(await imageExists(socketPath, TEST_IMAGE))) {
        throw new Error(`${BUILD_SCRIPT} ran but ${TEST_IMAGE} is missing on the private engine`);
      }
    },
    async destroy() {
      try {
        // Containers outlive a stopped engine (live-restore): bring it back to remove them.
        if (!engine.pid()) await start(20_000).catch(() => undefined);
        if (await ping(socketPath)) {
          const all = await docker.listContainers({ all: true }).catch(() => []);
          await Promise.all(
            all.map((c) =>
              docker
                .getContainer(c.Id)
                .remove({ force: true })
                .catch(() => undefined),
            ),
          );
        }
      } finally {
        await stop().catch(() => undefined);
        for (const m of mountsUnder(dir))
          await run('umount', ['-l', m], undefined, 10_000).catch(() => undefined);
        try {
          rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
        } catch {
          // a busy leftover in /tmp is harmless
        }
      }
    },
    log: tail,
  };
  try {
    await start();
  } catch (err) {
    await engine.destroy();
    throw err;
  }
  return engine;
}
