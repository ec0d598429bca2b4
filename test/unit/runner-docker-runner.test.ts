/** DockerRunner's pure parts: the create body, inspect → WorkloadInfo, and the plugin's registration. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import type { PluginContext } from '../../core/kernel/plugin.ts';
import {
  ImagePullError,
  type RunnerEvent,
  type RunnerFactory,
  RunnerTypesKey,
  type WorkloadSpec,
} from '../../core/slots/runner.ts';
import { DEFAULT_RUNNER_DOCKER_CONFIG } from '../../plugins/runner-docker/config.ts';
import {
  createBody,
  gpusFromGenericResources,
  pullFailureKind,
  storageFromDriverStatus,
  toDockerSince,
  toWorkloadInfo,
  toWorkloadState,
} from '../../plugins/runner-docker/docker-runner.ts';
import plugin, {
  DockerRunner,
  detectLocalEngine,
  LOCAL_DOCKER_RESOURCE_ID,
} from '../../plugins/runner-docker/index.ts';

const SPEC: WorkloadSpec = {
  name: 'iarnet-a1',
  image: 'iarnet-test/busybox:latest',
  command: ['sh', '-c', 'echo $GREETING; sleep 1'],
  env: { GREETING: 'hi there', EMPTY: '' },
  resources: { cpu: 0.5, memory: 64 * 1024 * 1024, gpu: 0 },
  ports: [
    { containerPort: 80, protocol: 'tcp' },
    { containerPort: 53, hostPort: 5353, protocol: 'udp' },
  ],
  labels: { 'iarnet.alloc': 'a1', 'iarnet.node': 'n1' },
  restartPolicy: 'on-failure',
};

describe('createBody', () => {
  it('maps the spec: argv command, KEY=value env, limits, ports, restart policy, labels', () => {
    expect(createBody(SPEC, 'nvidia')).toEqual({
      name: 'iarnet-a1',
      Image: 'iarnet-test/busybox:latest',
      Cmd: ['sh', '-c', 'echo $GREETING; sleep 1'],
      Env: ['GREETING=hi there', 'EMPTY='],
      Labels: { 'iarnet.alloc': 'a1', 'iarnet.node': 'n1' },
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      Tty: false,
      OpenStdin: false,
      AttachStdin: false,
      HostConfig: {
        NanoCpus: 500_000_000,
        Memory: 67108864,
        MemorySwap: 67108864,
        PortBindings: { '80/tcp': [{ HostPort: '' }], '53/udp': [{ HostPort: '5353' }] },
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 0 },
      },
    });
  });

  it('asks for GPUs only when the spec wants some', () => {
    expect(
      createBody({ ...SPEC, resources: { cpu: 1, memory: 0, gpu: 2 } }, 'nvidia').HostConfig?.DeviceRequests,
    ).toEqual([{ Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] }]);
    expect(createBody(SPEC, 'nvidia').HostConfig?.DeviceRequests).toBeUndefined();
  });

  it('never asks for privileges, host namespaces, mounts, capabilities or devices', () => {
    const body = createBody({ ...SPEC, resources: { cpu: 2, memory: 1e9, gpu: 1 } }, '');
    const host = body.HostConfig as Record<string, unknown>;
    for (const key of [
      'Privileged',
      'Binds',
      'Mounts',
      'VolumesFrom',
      'NetworkMode',
      'PidMode',
      'IpcMode',
      'UTSMode',
      'UsernsMode',
      'CapAdd',
      'Devices',
      'SecurityOpt',
      'Sysctls',
    ]) {
      expect(host[key], key).toBeUndefined();
    }
    expect((body as Record<string, unknown>).Volumes).toBeUndefined();
  });

  it('leaves image defaults alone when there is no command', () => {
    const body = createBody({ ...SPEC, command: undefined, restartPolicy: undefined }, 'nvidia');
    expect(body.Cmd).toBeUndefined();
    expect(body.HostConfig?.RestartPolicy).toEqual({ Name: '' });
  });
});

// inspect of a container killed by its 16 MiB memory limit (Docker 20.10), trimmed.
const OOM_INSPECT = {
  Id: '6df8056065d5b3d84c7282336fb347e67a38718e1312f525e5f336a7d3e3d42e',
  Created: '2026-11-26T12:52:48.657287342Z',
  Name: '/cap-oom',
  Image: 'sha256:c3decb8cf20235085b8e5fec5a58eed5a6e89cf95f066796c10efcb0f79d2efe',
  State: {
    Status: 'exited',
    Running: false,
    Paused: false,
    Restarting: false,
    OOMKilled: true,
    Dead: false,
    Pid: 0,
    ExitCode: 137,
    Error: '',
    StartedAt: '2026-11-26T12:52:48.85906243Z',
    FinishedAt: '2026-11-26T12:52:48.883304495Z',
  },
  HostConfig: { NanoCpus: 0, Memory: 16777216, PortBindings: null, DeviceRequests: null },
  Config: { Image: 'iarnet-test/busybox:latest', Labels: { 'iarnet.alloc': 'cap' }, Tty: false },
  NetworkSettings: { Ports: {} },
} as unknown as Docker.ContainerInspectInfo;

describe('toWorkloadInfo', () => {
  it('maps the recorded OOM-killed container', () => {
    expect(toWorkloadInfo(OOM_INSPECT)).toEqual({
      id: OOM_INSPECT.Id,
      name: 'cap-oom',
      image: 'iarnet-test/busybox:latest',
      state: 'exited',
      exitCode: 137,
      reason: 'OOMKilled',
      labels: { 'iarnet.alloc': 'cap' },
      resources: { cpu: 0, memory: 16777216, gpu: 0 },
      createdAt: '2026-11-26T12:52:48.657287342Z',
      startedAt: '2026-11-26T12:52:48.85906243Z',
      finishedAt: '2026-11-26T12:52:48.883304495Z',
      ports: [],
    });
  });

  it('says Completed / Error / the engine error for other exits, nothing while running', () => {
    const at = (state: Partial<Docker.ContainerInspectInfo['State']>) =>
      toWorkloadInfo({ ...OOM_INSPECT, State: { ...OOM_INSPECT.State, OOMKilled: false, ...state } });
    expect(at({ ExitCode: 0 }).reason).toBe('Completed');
    expect(at({ ExitCode: 2 }).reason).toBe('Error');
    expect(at({ ExitCode: 127, Error: 'exec: "nope": executable file not found' }).reason).toMatch(
      /executable/,
    );
    const running = at({ Status: 'running', FinishedAt: '0001-01-01T00:00:00Z' });
    expect(running.state).toBe('running');
    expect(running.exitCode).toBeUndefined();
    expect(running.reason).toBeUndefined();
    expect(running.finishedAt).toBeUndefined();
  });

  it('reads CPU from a quota, GPUs from device requests and published ports', () => {
    const info = toWorkloadInfo({
      ...OOM_INSPECT,
      HostConfig: {
        CpuQuota: 150_000,
        CpuPeriod: 100_000,
        DeviceRequests: [{ Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] }],
      },
      NetworkSettings: {
        Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }], '9000/udp': null },
      },
    } as unknown as Docker.ContainerInspectInfo);
    expect(info.resources).toEqual({ cpu: 1.5, memory: 0, gpu: 2 });
    expect(info.ports).toEqual([
      { containerPort: 80, protocol: 'tcp', hostPort: 32768, hostIp: '0.0.0.0' },
      { containerPort: 9000, protocol: 'udp' },
    ]);
  });

  it('maps every engine state and anything else to unknown', () => {
    for (const s of ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']) {
      expect(toWorkloadState(s)).toBe(s);
    }
    expect(toWorkloadState('weird')).toBe('unknown');
    expect(toWorkloadState(undefined)).toBe('unknown');
  });
});

describe('small parsers', () => {
  it('toDockerSince keeps nanoseconds and accepts unix seconds', () => {
    expect(toDockerSince('2026-11-26T12:52:49.461885379Z')).toBe('1795697569.461885379');
    expect(toDockerSince('2026-11-26T14:52:49.5+02:00')).toBe('1795697569.500000000');
    expect(toDockerSince('2026-11-26T12:52:49Z')).toBe('1795697569');
    expect(toDockerSince('1795697569')).toBe('1795697569');
    expect(toDockerSince('1795697569.25')).toBe('1795697569.25');
    expect(() => toDockerSince('yesterday')).toThrow(/RFC 3339/);
  });

  it('pullFailureKind says what went wrong without echoing the engine', () => {
    expect(
      pullFailureKind(
        'Get "https://doesnotexist.invalid/v2/": dial tcp: lookup doesnotexist.invalid on 10.0.0.53:53: no such host',
      ),
    ).toBe('registry unreachable');
    expect(
      pullFailureKind('Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused'),
    ).toBe('registry unreachable');
    expect(pullFailureKind('manifest for x:1 not found: manifest unknown')).toBe(
      'image not found or access denied',
    );
    expect(pullFailureKind('pull access denied for x, repository does not exist')).toBe(
      'image not found or access denied',
    );
    expect(pullFailureKind('invalid reference format')).toBe('invalid image reference');
    expect(pullFailureKind('something new')).toBe('pull failed');
  });

  it('storage from devicemapper status; GPUs from generic resources', () => {
    expect(
      storageFromDriverStatus([
        ['Pool Name', 'x'],
        ['Data Space Total', '107.4 GB'],
      ]),
    ).toBe(107_400_000_000);
    expect(storageFromDriverStatus([['Data Space Total', '2 GiB']])).toBe(2 * 1024 ** 3);
    expect(storageFromDriverStatus(null)).toBeUndefined();
    expect(
      gpusFromGenericResources([
        { DiscreteResourceSpec: { Kind: 'NVIDIA-GPU', Value: 2 } },
        { NamedResourceSpec: { Kind: 'gpu', Value: 'GPU-1' } },
        { DiscreteResourceSpec: { Kind: 'SSD', Value: 1 } },
      ]),
    ).toBe(3);
    expect(gpusFromGenericResources(null)).toBe(0);
  });
});

describe('start() input checks', () => {
  const r = new DockerRunner({ id: 'r', type: 'docker', url: 'unix:///nonexistent/docker.sock' });
  it('refuses names and images that could reach into other API paths, before any engine call', async () => {
    await expect(r.start({ ...SPEC, name: '../x' })).rejects.toThrow(/workload name/);
    await expect(r.start({ ...SPEC, image: 'a/../../containers/x' })).rejects.toThrow(/valid reference/);
    await expect(r.start({ ...SPEC, image: 'busybox?x=1' })).rejects.toThrow(/valid reference/);
    await expect(r.start({ ...SPEC, resources: { cpu: Number.NaN, memory: 1, gpu: 0 } })).rejects.toThrow(
      /cpu/,
    );
    await expect(r.start({ ...SPEC, resources: { cpu: 1, memory: 1, gpu: 0.5 } })).rejects.toThrow(/gpu/);
    await expect(r.start({ ...SPEC, env: { 'A=B': 'x' } })).rejects.toThrow(/environment/);
  });
  it('accepts registry hosts with ports, tags and digests', async () => {
    for (const image of ['localhost:5000/team/app:1.2', `ghcr.io/o/r@sha256:${'a'.repeat(64)}`, 'busybox']) {
      // passes the checks, then fails only because the engine is not there
      await expect(r.start({ ...SPEC, image })).rejects.toThrow(/unreachable/);
    }
  });
});

describe('plugin', () => {
  it('registers docker and vm factories with the runner-type registry', async () => {
    const registered: RunnerFactory[] = [];
    const ctx = {
      config: DEFAULT_RUNNER_DOCKER_CONFIG,
      logger: { warn: () => undefined, info: () => undefined, debug: () => undefined },
      runtime: { env: () => ({}) },
      tryUse: (key: unknown) =>
        key === RunnerTypesKey
          ? { register: (f: RunnerFactory) => registered.push(f), get: () => undefined, types: () => [] }
          : undefined,
    } as unknown as PluginContext<typeof DEFAULT_RUNNER_DOCKER_CONFIG>;
    await plugin.setup(ctx);
    expect(registered.map((f) => f.type)).toEqual(['docker', 'vm']);
    const runner = registered[1]!.create({ id: 'vm1', type: 'vm', url: 'ssh://ops@vm1', token: 'pw' });
    expect(runner.type).toBe('vm');
    expect(() => registered[1]!.create({ id: 'vm2', type: 'vm', url: 'tcp://vm2:2375' })).toThrow(/ssh:\/\//);
    await runner.close();
  });

  it('detects the local engine from DOCKER_HOST or the default socket', async () => {
    const cfg = DEFAULT_RUNNER_DOCKER_CONFIG;
    expect(detectLocalEngine(cfg, { DOCKER_HOST: 'unix:///run/d.sock' })).toEqual({
      id: LOCAL_DOCKER_RESOURCE_ID,
      type: 'docker',
      url: 'unix:///run/d.sock',
    });
    expect(detectLocalEngine(cfg, { DOCKER_HOST: 'ssh://x@y' })).toBeUndefined();
    expect(detectLocalEngine({ ...cfg, default_socket: '/nonexistent/d.sock' }, {})).toBeUndefined();

    const dir = mkdtempSync(join(tmpdir(), 'iarnet-rd-'));
    const sock = join(dir, 'docker.sock');
    const server = createServer();
    await new Promise<void>((r) => server.listen(sock, () => r()));
    try {
      expect(detectLocalEngine({ ...cfg, default_socket: sock }, {})?.url).toBe(`unix://${sock}`);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * A scripted engine for the pull path (no registry is reachable here, so a real pull cannot be
 * shown): image missing → POST /images/create streams progress (or an error) → create → start.
 */
async function fakeEngine(pullLines: (object | string)[]) {
  const calls: string[] = [];
  let pulled = false;
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://engine');
    calls.push(`${req.method} ${url.pathname}`);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/info') return json(200, { SystemTime: new Date().toISOString() });
    if (url.pathname === '/events') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return; // stays open
    }
    if (/^\/images\/.+\/json$/.test(url.pathname))
      return pulled ? json(200, { Id: 'sha256:x' }) : json(404, { message: 'no such image' });
    if (url.pathname === '/images/create') {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (const l of pullLines) res.write(typeof l === 'string' ? l : `${JSON.stringify(l)}\r\n`);
      if (!pullLines.some((l) => typeof l === 'object' && 'error' in l)) pulled = true;
      return res.end();
    }
    if (url.pathname === '/containers/create') return json(201, { Id: 'cid1', Warnings: [] });
    if (url.pathname === '/containers/cid1/start') return res.writeHead(204).end();
    if (url.pathname === '/containers/cid1/json') {
      return json(200, {
        ...OOM_INSPECT,
        Id: 'cid1',
        Name: `/${SPEC.name}`,
        State: {
          ...OOM_INSPECT.State,
          Status: 'running',
          OOMKilled: false,
          FinishedAt: '0001-01-01T00:00:00Z',
        },
      });
    }
    if (url.pathname.startsWith('/containers/')) return json(404, { message: 'No such container' });
    json(500, { message: `unexpected ${url.pathname}` });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return { calls, port, close };
}

describe('start() pulls a missing image', () => {
  it('emits pull:progress events, then creates and starts', async () => {
    const engine = await fakeEngine([
      { status: 'Pulling from team/app', id: '1' },
      {
        status: 'Downloading',
        progressDetail: { current: 1, total: 2 },
        progress: '[=====>     ] 1MB/2MB',
        id: 'abc',
      },
      { status: 'Download complete', id: 'abc' },
      { status: 'Status: Downloaded newer image for localhost:5000/team/app:1' },
    ]);
    const r = new DockerRunner({ id: 'fake', type: 'docker', url: `tcp://127.0.0.1:${engine.port}` });
    const ac = new AbortController();
    const events: RunnerEvent[] = [];
    const watching = (async () => {
      for await (const e of r.events({ signal: ac.signal })) events.push(e);
    })();
    try {
      const info = await r.start({ ...SPEC, image: 'localhost:5000/team/app:1' });
      expect(info).toMatchObject({ id: 'cid1', state: 'running' });
      const progress = events.filter((e) => e.type === 'pull:progress');
      expect(progress.map((e) => ('status' in e ? e.status : ''))).toEqual([
        'Pulling from team/app',
        'Downloading',
        'Download complete',
        'Status: Downloaded newer image for localhost:5000/team/app:1',
      ]);
      expect(progress[1]).toMatchObject({
        image: 'localhost:5000/team/app:1',
        progress: '[=====>     ] 1MB/2MB',
      });
      expect(engine.calls).toContain('POST /containers/create');
    } finally {
      ac.abort();
      await watching;
      await r.close();
      await engine.close();
    }
  });

  it('turns an error inside the pull stream into ImagePullError and creates nothing', async () => {
    const engine = await fakeEngine([
      { status: 'Pulling from team/app' },
      {
        errorDetail: { message: 'manifest for localhost:5000/team/app:1 not found: manifest unknown' },
        error: 'x',
      },
    ]);
    const r = new DockerRunner({ id: 'fake', type: 'docker', url: `tcp://127.0.0.1:${engine.port}` });
    try {
      const err = await r.start({ ...SPEC, image: 'localhost:5000/team/app:1' }).catch((e) => e);
      expect(err).toBeInstanceOf(ImagePullError);
      expect(err.message).toBe(
        'image "localhost:5000/team/app:1" could not be pulled: image not found or access denied',
      );
      expect(engine.calls).not.toContain('POST /containers/create');
    } finally {
      await r.close();
      await engine.close();
    }
  });

  it('survives a malformed progress line from a hostile engine', async () => {
    const engine = await fakeEngine([
      '{"status":"ok"}\n',
      '{not json at all\n',
      '\u0000\u0001\n',
      '{"status":"done"}\n',
    ]);
    const r = new DockerRunner({ id: 'fake', type: 'docker', url: `tcp://127.0.0.1:${engine.port}` });
    try {
      await expect(r.start({ ...SPEC, image: 'localhost:5000/team/app:1' })).resolves.toMatchObject({
        id: 'cid1',
      });
    } finally {
      await r.close();
      await engine.close();
    }
  });
});
