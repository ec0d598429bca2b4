/**
 * Every bad input to the resources API is a 400 with field errors, and nothing happens: no row,
 * no connection attempt. Metadata and link-local addresses are refused in every encoding.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type ErrorBody, type ResourcesNode, startResourcesNode } from './resources-harness.ts';

let t: ResourcesNode;
beforeAll(async () => {
  // No built-in resource, so "no row created" means an empty list.
  t = await startResourcesNode({ mode: 'k8s', resources: { outbound: { deny: ['10.99.0.0/16'] } } });
});

const valid = { name: 'engine-1', type: 'docker', url: 'tcp://127.0.0.1:2375' };
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const big = 'x'.repeat(100 * 1024);

async function expectRefused(body: unknown, field: string, message?: RegExp, route = '/api/resources') {
  const before = t.engines.connections.length;
  const res = await t.json<ErrorBody>('POST', route, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.code).toBe('VALIDATION_FAILED');
  const paths = (res.body.fields ?? []).map((f) => f.path);
  expect(paths, JSON.stringify(res.body.fields)).toContain(field);
  if (message) {
    expect(res.body.fields!.find((f) => f.path === field)!.message).toMatch(message);
  }
  // Nothing was saved and no connection was even attempted.
  expect((await t.json<unknown[]>('GET', '/api/resources')).body).toEqual([]);
  expect(t.engines.connections.length).toBe(before);
  return res.body;
}

describe('URL rules → 400 on url', () => {
  const urls: [string, string, RegExp][] = [
    ['docker', 'file:///etc/passwd', /must look like/],
    ['docker', 'gopher://127.0.0.1:6379/_FLUSHALL', /must look like/],
    ['docker', 'ftp://127.0.0.1:21', /must look like/],
    ['docker', 'ext::sh -c touch% /tmp/pwned', /spaces|must look like/],
    ['docker', 'javascript:alert(1)', /must look like/],
    ['docker', 'tcp://127.0.0.1:2375\r\nX-Injected: 1', /control characters/],
    ['docker', 'tcp://127.0.0.1:2375\u0007', /control characters/],
    ['docker', 'https://admin:hunter2@127.0.0.1:2376', /password/],
    ['docker', `tcp://${'a'.repeat(2049)}:1`, /2048/],
    ['docker', `tcp://127.0.0.1:2375/${big}`, /2048/],
    ['vm', 'tcp://127.0.0.1:2375', /must look like/],
    ['kubernetes', 'http://192.168.1.10:8080', /loopback/],
  ];
  it.each(urls)('%s %j', async (type, url, message) => {
    await expectRefused({ ...valid, type, url }, 'url', message);
  });

  const metadata = [
    'tcp://169.254.169.254:2375',
    'tcp://[::ffff:169.254.169.254]:2375',
    'tcp://0251.0376.0251.0376:2375',
    'https://0251.0376.0251.0376:2376',
    'tcp://2852039166:2375',
    'tcp://0xa9.0xfe.0xa9.0xfe:2375',
    'tcp://169.254.43518:2375',
    'tcp://%31%36%39.254.169.254:2375',
    'tcp://[::ffff:a9fe:a9fe]:2375',
    'tcp://[64:ff9b::a9fe:a9fe]:2375',
    'tcp://[2002:a9fe:a9fe::1]:2375',
    'tcp://[fe80::1]:2375',
    'tcp://100.100.100.200:2375',
    'tcp://[fd00:ec2::254]:2375',
  ];
  it.each(metadata)('refuses metadata / link-local %s', async (url) => {
    const body = await expectRefused({ ...valid, url }, 'url', /never connects to/);
    expect(body.details).toContain('url:');
  });

  it('refuses metadata for every type, before looking for a runner (no 422)', async () => {
    await expectRefused(
      { ...valid, type: 'vm', url: 'ssh://root@169.254.169.254', ssh: { username: 'root', password: 'pw' } },
      'url',
      /never connects/,
    );
    await expectRefused(
      { ...valid, type: 'kubernetes', url: 'https://[fe80::1]:6443' },
      'url',
      /never connects/,
    );
  });

  it('applies the configured deny list, also to names after resolving them', async () => {
    await expectRefused({ ...valid, url: 'tcp://10.99.1.2:2375' }, 'url', /administrator denied/);
    const denyLocal = await startResourcesNode({
      mode: 'k8s',
      resources: { outbound: { deny: ['127.0.0.0/8', '::1'] } },
    });
    const res = await denyLocal.json<ErrorBody>('POST', '/api/resources', {
      body: { ...valid, url: 'tcp://localhost:2375' },
    });
    expect(res.status).toBe(400);
    expect(res.body.fields).toEqual([
      { path: 'url', message: expect.stringMatching(/administrator denied/) },
    ]);
  });

  it('refuses the same on POST /api/resources/test and PUT', async () => {
    await expectRefused(
      { type: 'docker', url: 'tcp://169.254.169.254:2375' },
      'url',
      /never/,
      '/api/resources/test',
    );
    const created = await t.json<{ id: string }>('POST', '/api/resources', { body: valid });
    expect(created.status).toBe(201);
    const res = await t.json<ErrorBody>('PUT', `/api/resources/${created.body.id}`, {
      body: { url: 'tcp://0251.0376.0251.0376:2375' },
    });
    expect(res.status).toBe(400);
    expect(res.body.fields?.[0]?.path).toBe('url');
    const after = await t.json<{ url: string }>('GET', `/api/resources/${created.body.id}`);
    expect(after.body.url).toBe('tcp://127.0.0.1:2375');
    expect((await t.request('DELETE', `/api/resources/${created.body.id}`)).status).toBe(204);
  });
});

describe('kubernetes namespace → 400 on namespace', () => {
  const cluster = { name: 'cluster-1', type: 'kubernetes', url: 'https://127.0.0.1:6443', token: 'tok' };
  const bad: [string, unknown][] = [
    ['uppercase', 'Team-A'],
    ['leading dash', '-team'],
    ['trailing dash', 'team-'],
    ['underscore', 'team_a'],
    ['dot (a subdomain, not a label)', 'team.a'],
    ['space', 'team a'],
    ['newline', 'team\n'],
    ['empty', ''],
    ['64 characters', 'n'.repeat(64)],
    ['100 kB', big],
    ['not a string', 42],
    ['an object', { name: 'team' }],
  ];
  it.each(bad)('%s', async (_what, namespace) => {
    await expectRefused({ ...cluster, namespace }, 'namespace');
    await expectRefused({ ...cluster, namespace }, 'namespace', undefined, '/api/resources/test');
  });

  it('names the rule in the message', async () => {
    await expectRefused({ ...cluster, namespace: 'Team' }, 'namespace', /Kubernetes namespace name/);
    await expectRefused({ ...cluster, namespace: 'n'.repeat(64) }, 'namespace', /at most 63/);
  });

  it('refuses a namespace on other types, also on test', async () => {
    await expectRefused({ ...valid, namespace: 'team-a' }, 'namespace', /only kubernetes resources/);
    await expectRefused(
      {
        ...valid,
        type: 'vm',
        url: 'ssh://root@127.0.0.1',
        ssh: { username: 'root', password: 'x' },
        namespace: 'a',
      },
      'namespace',
      /only kubernetes resources/,
    );
    await expectRefused(
      { type: 'docker', url: 'tcp://127.0.0.1:2375', namespace: 'team-a' },
      'namespace',
      /only kubernetes resources/,
      '/api/resources/test',
    );
  });

  it('accepts 63 characters and single characters (then 422: no kubernetes runner in this node)', async () => {
    for (const namespace of ['n'.repeat(63), 'a', '0', 'team-a-1']) {
      const res = await t.json<ErrorBody>('POST', '/api/resources', { body: { ...cluster, namespace } });
      expect(res.status, namespace).toBe(422);
      expect(res.body.code).toBe('NO_RUNNER');
    }
    expect((await t.json('GET', '/api/resources')).body).toEqual([]);
  });

  it('refuses the same on PUT, changing nothing', async () => {
    const created = await t.json<{ id: string; updatedAt: string }>('POST', '/api/resources', {
      body: { ...valid, name: 'ns-target' },
    });
    expect(created.status).toBe(201);
    const connections = t.engines.connections.length;
    for (const [namespace, message] of [
      ['team-a', /only kubernetes resources/],
      ['Team', /Kubernetes namespace name/],
      ['', /Kubernetes namespace name/],
    ] as const) {
      const res = await t.json<ErrorBody>('PUT', `/api/resources/${created.body.id}`, {
        body: { namespace },
      });
      expect(res.status, namespace).toBe(400);
      expect(res.body.fields).toEqual([{ path: 'namespace', message: expect.stringMatching(message) }]);
    }
    expect(t.engines.connections.length).toBe(connections);
    const after = await t.json<Record<string, unknown>>('GET', `/api/resources/${created.body.id}`);
    expect(after.body).not.toHaveProperty('namespace');
    expect(after.body.updatedAt).toBe(created.body.updatedAt);
    expect((await t.request('DELETE', `/api/resources/${created.body.id}`)).status).toBe(204);
  });
});

describe('field rules → 400 with the field named', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['empty name', { name: '' }, 'name'],
    ['64-character name', { name: 'n'.repeat(64) }, 'name'],
    ['100 kB name', { name: big }, 'name'],
    ['control character in name', { name: 'a\u0000b' }, 'name'],
    ['newline in name', { name: 'a\nb' }, 'name'],
    ['bidi override in name', { name: 'abc\u202edcba' }, 'name'],
    ['name with outer spaces', { name: ' a ' }, 'name'],
    ['unknown type', { type: 'podman' }, 'type'],
    ['missing url', { url: undefined }, 'url'],
    ['url not a string', { url: 42 }, 'url'],
    ['empty token', { token: '' }, 'token'],
    ['100 kB token', { token: big }, 'token'],
    ['control character in token', { token: 'abc\r\nX-Evil: 1' }, 'token'],
    ['100 kB description', { description: big }, 'description'],
    ['control character in description', { description: 'a\u001bb' }, 'description'],
    ['21 tags', { tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'tags'],
    ['33-character tag', { tags: ['t'.repeat(33)] }, 'tags.0'],
    ['empty tag', { tags: [''] }, 'tags.0'],
    ['tag not a string', { tags: [1] }, 'tags.0'],
    ['100 kB location', { location: big }, 'location'],
    ['negative cpu limit', { limits: { cpu: -1 } }, 'limits.cpu'],
    ['zero memory limit', { limits: { memory: 0 } }, 'limits.memory'],
    ['absurd cpu limit', { limits: { cpu: 1e12 } }, 'limits.cpu'],
    ['fractional gpu limit', { limits: { gpu: 0.5 } }, 'limits.gpu'],
    ['cpu limit as string', { limits: { cpu: '4' } }, 'limits.cpu'],
    ['unknown top-level field', { privileged: true }, 'privileged'],
    ['unknown tls field', { tls: { ca: PEM, insecure: true } }, 'tls.insecure'],
    ['unknown limits field', { limits: { disk: 1 } }, 'limits.disk'],
    ['non-PEM ca', { tls: { ca: 'not a certificate' } }, 'tls.ca'],
    ['100 kB PEM', { tls: { ca: `-----BEGIN CERTIFICATE-----\n${big}` } }, 'tls.ca'],
    ['skipVerify not boolean', { tls: { skipVerify: 'yes' } }, 'tls.skipVerify'],
    ['tls on a unix socket', { url: 'unix:///var/run/docker.sock', tls: { ca: PEM } }, 'tls'],
    ['client cert without key', { tls: { cert: PEM } }, 'tls.key'],
    ['ssh on docker', { ssh: { username: 'root', password: 'x' } }, 'ssh'],
    ['vm without credentials', { type: 'vm', url: 'ssh://root@127.0.0.1:22' }, 'ssh'],
    ['vm without user', { type: 'vm', url: 'ssh://127.0.0.1', token: 'pw' }, 'ssh.username'],
    [
      'vm user differs from URL',
      { type: 'vm', url: 'ssh://root@127.0.0.1', ssh: { username: 'admin', password: 'x' } },
      'ssh.username',
    ],
    [
      'vm port differs from URL',
      { type: 'vm', url: 'ssh://root@127.0.0.1:22', ssh: { username: 'root', password: 'x', port: 2222 } },
      'ssh.port',
    ],
    [
      'bad ssh user',
      { type: 'vm', url: 'ssh://127.0.0.1', ssh: { username: 'r;m -rf', password: 'x' } },
      'ssh.username',
    ],
    [
      'bad ssh port',
      { type: 'vm', url: 'ssh://127.0.0.1', ssh: { username: 'root', password: 'x', port: 0 } },
      'ssh.port',
    ],
    [
      'bad host key',
      {
        type: 'vm',
        url: 'ssh://root@127.0.0.1',
        ssh: { username: 'root', password: 'x', hostKey: 'md5:aa' },
      },
      'ssh.hostKey',
    ],
    [
      'unknown ssh field',
      { type: 'vm', url: 'ssh://root@127.0.0.1', ssh: { username: 'root', agent: true } },
      'ssh.agent',
    ],
  ];
  it.each(cases)('%s', async (_what, patch, field) => {
    await expectRefused({ ...valid, ...patch }, field);
  });

  it('refuses a body that is not a JSON object, or malformed JSON', async () => {
    for (const raw of ['[]', '"x"', 'null', '{"name":']) {
      const res = await t.request('POST', '/api/resources', { raw });
      expect(res.status, raw).toBe(400);
    }
  });

  it('refuses a body over the size limit with 413', async () => {
    const res = await t.request('POST', '/api/resources', {
      raw: JSON.stringify({ ...valid, description: 'x'.repeat(2 * 2 ** 20) }),
    });
    expect(res.status).toBe(413);
  });

  it('refuses unknown query parameters and bad booleans', async () => {
    expect((await t.json('POST', '/api/resources?verify=yes', { body: valid })).status).toBe(400);
    expect((await t.json('POST', '/api/resources?debug=1', { body: valid })).status).toBe(400);
    expect((await t.json('GET', '/api/resources')).body).toEqual([]);
  });

  it('validates ids: 400 for a malformed id, 404 for an unknown one', async () => {
    for (const [method, path] of [
      ['GET', '/api/resources/not-an-id'],
      ['PUT', '/api/resources/res_..%2F..%2Fx'],
      ['DELETE', '/api/resources/RES_0123'],
      ['POST', '/api/resources/res_123/refresh'],
    ] as const) {
      const res = await t.json<ErrorBody>(method, path, method === 'PUT' ? { body: { name: 'x' } } : {});
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body.fields?.[0]?.path).toBe('id');
    }
    const unknown = 'res_0123456789abcdef0123';
    for (const method of ['GET', 'DELETE'] as const) {
      expect((await t.request(method, `/api/resources/${unknown}`)).status).toBe(404);
    }
    expect((await t.request('POST', `/api/resources/${unknown}/refresh`)).status).toBe(404);
    expect((await t.json('PUT', `/api/resources/${unknown}`, { body: { name: 'x' } })).status).toBe(404);
  });

  it('refuses an empty PUT and unknown PUT fields', async () => {
    const created = await t.json<{ id: string }>('POST', '/api/resources', {
      body: { ...valid, name: 'put-target' },
    });
    for (const body of [
      {},
      { status: 'connected' },
      { builtin: true },
      { id: 'res_x' },
      { hasToken: false },
    ]) {
      expect(
        (await t.json('PUT', `/api/resources/${created.body.id}`, { body })).status,
        JSON.stringify(body),
      ).toBe(400);
    }
    expect((await t.request('DELETE', `/api/resources/${created.body.id}`)).status).toBe(204);
  });
});
