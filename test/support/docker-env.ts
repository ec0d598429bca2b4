// Docker engine helpers for integration tests.
//
//   const docker = await requireDocker();          // throws in CI when no engine answers
//   describe.skipIf(!docker.ok)('docker driver', () => {
//     beforeAll(async () => { await ensureTestImage(); });
//     ...
//   });
//
// The engine is found through DOCKER_HOST (unix:// only) or /var/run/docker.sock, the
// socket that .ci/run starts dockerd on. Tests never pull: they use TEST_IMAGE, built
// locally from busybox-static by test/support/build-test-image.sh.
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

export const TEST_IMAGE = 'iarnet-test/busybox:latest';
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
const PING_TIMEOUT_MS = 2_000;
const BUILD_SCRIPT = fileURLToPath(new URL('./build-test-image.sh', import.meta.url));

export type DockerAvailability = { ok: true; socketPath: string } | { ok: false; reason: string };
export type DockerRequirement = { ok: true; socketPath: string } | { ok: false; skipReason: string };

export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true' || env.CI === '1';
}

/** The unix socket path named by DOCKER_HOST (unix:// only), else /var/run/docker.sock. */
export function dockerSocketPath(
  env: NodeJS.ProcessEnv = process.env,
): { socketPath: string } | { error: string } {
  const host = env.DOCKER_HOST?.trim();
  if (!host) return { socketPath: DEFAULT_DOCKER_SOCKET };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    return socketPath ? { socketPath } : { error: `DOCKER_HOST=${host} names no socket path` };
  }
  return { error: `DOCKER_HOST=${host} is not a unix:// socket; the tests talk to a unix socket only` };
}

type RawResponse = { status: number; body: string };

/** One plain HTTP request to the engine over its unix socket, with a hard timeout. */
function engineRequest(socketPath: string, path: string, timeoutMs = PING_TIMEOUT_MS): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, res?: RawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(res as RawResponse);
    };
    const req = request({ socketPath, path, method: 'GET', headers: { host: 'docker' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        finish(null, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', (e) => finish(e));
    });
    const timer = setTimeout(() => {
      const err = new Error(`no answer within ${timeoutMs} ms`);
      req.destroy(err);
      finish(err);
    }, timeoutMs);
    req.on('error', (e) => finish(e));
    req.end();
  });
}

/** Pings the engine (GET /_ping, 2 s timeout). Never throws. */
export async function dockerAvailable(env: NodeJS.ProcessEnv = process.env): Promise<DockerAvailability> {
  const target = dockerSocketPath(env);
  if ('error' in target) return { ok: false, reason: target.error };
  const { socketPath } = target;
  try {
    const res = await engineRequest(socketPath, '/_ping');
    if (res.status === 200 && res.body.trim() === 'OK') return { ok: true, socketPath };
    return {
      ok: false,
      reason: `docker engine at ${socketPath} answered /_ping with HTTP ${res.status}: ${res.body.slice(0, 200)}`,
    };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const code = err.code ? `${err.code}: ` : '';
    return {
      ok: false,
      reason: `no docker engine answers at unix://${socketPath} (${code}${err.message}); start one with \`bash .ci/run --prepare-only\``,
    };
  }
}

/**
 * In CI (CI=true) a missing engine is an error: throws with the reason.
 * Elsewhere returns { ok: false, skipReason } after printing the reason loudly, so the
 * caller can skip (e.g. `describe.skipIf(!docker.ok)`).
 */
export async function requireDocker(env: NodeJS.ProcessEnv = process.env): Promise<DockerRequirement> {
  const res = await dockerAvailable(env);
  if (res.ok) return res;
  if (isCI(env)) throw new Error(`Docker is required in CI: ${res.reason}`);
  const skipReason = `SKIPPING docker tests: ${res.reason}`;
  const bar = '!'.repeat(Math.min(100, skipReason.length));
  console.warn(`\n${bar}\n${skipReason}\n${bar}\n`);
  return { ok: false, skipReason };
}

/** Whether `image` exists on the engine at `socketPath` (GET /images/{name}/json). */
export async function imageExists(socketPath: string, image: string = TEST_IMAGE): Promise<boolean> {
  const res = await engineRequest(socketPath, `/images/${encodeURIComponent(image)}/json`, 10_000);
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw new Error(
    `docker engine: GET /images/${image}/json -> HTTP ${res.status}: ${res.body.slice(0, 200)}`,
  );
}

/**
 * Makes sure TEST_IMAGE exists, running test/support/build-test-image.sh (busybox-static ->
 * docker import) when it is missing. Throws when there is no engine or the build fails.
 * Returns the image name.
 */
export async function ensureTestImage(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const res = await dockerAvailable(env);
  if (!res.ok) throw new Error(`cannot ensure ${TEST_IMAGE}: ${res.reason}`);
  if (await imageExists(res.socketPath, TEST_IMAGE)) return TEST_IMAGE;
  await new Promise<void>((resolve, reject) => {
    execFile(
      'bash',
      [BUILD_SCRIPT],
      {
        env: { ...env, DOCKER_HOST: `unix://${res.socketPath}`, IARNET_TEST_IMAGE: TEST_IMAGE },
        timeout: 180_000,
        maxBuffer: 4 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${BUILD_SCRIPT} failed: ${err.message}\n${stdout}${stderr}`.trim()));
        else resolve();
      },
    );
  });
  if (!(await imageExists(res.socketPath, TEST_IMAGE))) {
    throw new Error(`${BUILD_SCRIPT} ran but ${TEST_IMAGE} is still missing`);
  }
  return TEST_IMAGE;
}
