import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envToTree, loadConfig, splitAddress } from '../../../core/kernel/config.ts';
import { ConfigError } from '../../../core/kernel/errors.ts';

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'iarnet-config-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, text);
  return path;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has defaults matching the design document', () => {
    const { core } = loadConfig({});
    expect(core).toMatchObject({
      mode: 'standalone',
      listen_addr: ':8080',
      peer_listen_addr: ':50051',
      data_dir: './data',
      initial_peers: [],
      logging: { level: 'info', format: 'json', output: 'stdout' },
      tls: { enabled: false },
      grpc: { tls: { enabled: false } },
    });
  });

  it('reads the document’s example file and parses quantities', () => {
    const path = file(`mode: "standalone"
listen_addr: ":8080"
peer_listen_addr: ":50051"
resource_limits:
  cpu: "4"
  memory: "8Gi"
  gpu: "1"
logging:
  level: debug
  format: json
  output: stdout
tls:
  enabled: false
grpc:
  tls:
    enabled: false
`);
    const { core, file: used } = loadConfig({ flags: { config: path } });
    expect(used).toBe(path);
    expect(core.resource_limits).toEqual({ cpu: 4, memory: 8 * 2 ** 30, gpu: 1 });
    expect(core.logging.level).toBe('debug');
  });

  it('applies precedence defaults < file < env < flags', () => {
    const path = file('listen_addr: ":1111"\ndata_dir: /from-file\nresource_limits:\n  cpu: "2"\n');
    const env = {
      IARNET_LISTEN_ADDR: ':2222',
      IARNET_RESOURCE_LIMITS__CPU: '500m',
      IARNET_DATA_DIR: '/from-env',
    };
    const { core } = loadConfig({ flags: { config: path, listen: ':3333' }, env });
    expect(core.listen_addr).toBe(':3333');
    expect(core.data_dir).toBe('/from-env');
    expect(core.resource_limits.cpu).toBe(0.5);
  });

  it('takes --initial-peers as a comma list and LOG_LEVEL from the environment', () => {
    const { core } = loadConfig({
      flags: { 'initial-peers': 'node1:50051, node2:50051' },
      env: { LOG_LEVEL: 'warn' },
    });
    expect(core.initial_peers).toEqual(['node1:50051', 'node2:50051']);
    expect(core.logging.level).toBe('warn');
  });

  it('coerces env strings for booleans and integers', () => {
    const { core } = loadConfig({
      env: {
        IARNET_TLS__ENABLED: 'true',
        IARNET_TLS__CERT_FILE: '/c',
        IARNET_TLS__KEY_FILE: '/k',
        IARNET_HTTP__SHUTDOWN_GRACE: '3',
      },
    });
    expect(core.tls).toEqual({ enabled: true, cert_file: '/c', key_file: '/k' });
    expect(core.http.shutdown_grace).toBe(3);
  });

  it('keeps non-core sections for plugins', () => {
    const { sections } = loadConfig({ env: { IARNET_AUTH__TOKEN_TTL: '60' } });
    expect(sections).toEqual({ auth: { token_ttl: '60' } });
  });

  it.each([
    ['mode: swarm\n', 'mode'],
    ['listen_addr: "8080"\n', 'listen_addr'],
    ['listen_addr: ":99999"\n', 'listen_addr'],
    ['resource_limits:\n  cpu: "four"\n', 'resource_limits.cpu'],
    ['resource_limits:\n  memory: "-1Gi"\n', 'resource_limits.memory'],
    ['resource_limits:\n  gpu: "1.5"\n', 'resource_limits.gpu'],
    ['resource_limits:\n  cpus: 4\n', 'resource_limits.cpus'],
    ['logging:\n  level: loud\n', 'logging.level'],
    ['tls:\n  enabled: true\n', 'tls'],
    ['initial_peers: ["no-port"]\n', 'initial_peers.0'],
    ['plugins: "not-a-list"\n', 'plugins'],
  ])('names the key of a wrong value: %j', (text, key) => {
    const err = configError(() => loadConfig({ file: file(text) }));
    expect(err.issues.map((i) => i.path)).toContain(key);
    expect(err.message).toContain(key);
  });

  it('rejects a wrong env value naming the key', () => {
    const err = configError(() => loadConfig({ env: { IARNET_RESOURCE_LIMITS__CPU: 'lots' } }));
    expect(err.message).toMatch(/resource_limits\.cpu/);
  });

  it('reports unreadable and malformed files', () => {
    expect(() => loadConfig({ file: '/nonexistent/iarnet.yaml' })).toThrow(/cannot read/);
    expect(() => loadConfig({ file: file('a: [1,\n') })).toThrow(/not valid YAML/);
    expect(() => loadConfig({ file: file('- 1\n- 2\n') })).toThrow(/must contain a mapping/);
  });
});

describe('envToTree', () => {
  it('maps IARNET_A__B to nested keys and ignores unrelated variables', () => {
    expect(
      envToTree({ IARNET_A__B_C: 'x', PATH: '/bin', IARNET_CONFIG: 'f', IARNET_ADMIN_PASSWORD: 'p' }),
    ).toEqual({
      a: { b_c: 'x' },
    });
  });
});

describe('splitAddress', () => {
  it.each([
    [':8080', '0.0.0.0', 8080],
    ['127.0.0.1:0', '127.0.0.1', 0],
    ['[::1]:9000', '::1', 9000],
    ['node1:50051', 'node1', 50051],
  ])('%s', (addr, host, port) => {
    expect(splitAddress(addr)).toEqual({ host, port });
  });
});
