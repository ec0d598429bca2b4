/**
 * Configuration: the design document's keys (section 3.5.1, 6.2, 7.2) plus what IARNet adds.
 * Sources, lowest precedence first: defaults < YAML file (--config) < IARNET_* env < flags.
 * Env names follow the keys, upper-cased, `__` for nesting: IARNET_RESOURCE_LIMITS__CPU=4.
 * Plugin sections live at the top level under the plugin's config key (e.g. `auth:`); each plugin
 * validates its own section, and a top-level key nobody claims is an error.
 */
import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type FieldError } from './errors.ts';
import { parseQuantity, QuantityError } from './quantity.ts';

const quantity = (what: string, opts: { integer?: boolean } = {}) =>
  v.pipe(
    v.union([v.string(), v.number()], `expected a quantity for ${what}, e.g. "4", "500m" or "8Gi"`),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        const n = parseQuantity(dataset.value);
        if (n < 0) {
          addIssue({ message: `${what} must not be negative` });
          return NEVER;
        }
        if (opts.integer && !Number.isInteger(n)) {
          addIssue({ message: `${what} must be a whole number` });
          return NEVER;
        }
        return n;
      } catch (e) {
        addIssue({ message: e instanceof QuantityError ? e.message : String(e) });
        return NEVER;
      }
    }),
  );

/** Booleans arrive from env as strings. */
const flag = v.pipe(
  v.union([v.boolean(), v.picklist(['true', 'false', '1', '0'])], 'expected true or false'),
  v.transform((x) => x === true || x === 'true' || x === '1'),
);

const int = (min: number, max: number) =>
  v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.regex(/^\d+$/, 'expected an integer'), v.transform(Number))]),
    v.integer('expected an integer'),
    v.minValue(min),
    v.maxValue(max),
  );

/** host:port, :port or [v6]:port. Port 0 asks the OS for a free port (tests use it). */
export const ADDRESS = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/;
const address = v.pipe(
  v.string(),
  v.regex(ADDRESS, 'expected host:port or :port'),
  v.check((s) => Number(ADDRESS.exec(s)?.[1]) <= 65535, 'port must be 0-65535'),
);

const peerList = v.pipe(
  v.union([v.array(v.string()), v.string()]),
  v.transform((x) => (typeof x === 'string' ? x.split(',') : x).map((s) => s.trim()).filter(Boolean)),
  v.array(address),
);

const tlsFiles = {
  enabled: v.optional(flag, false),
  cert_file: v.optional(v.string()),
  key_file: v.optional(v.string()),
};
const requireFilesWhenEnabled = (t: { enabled: boolean; cert_file?: string; key_file?: string }) =>
  !t.enabled || (Boolean(t.cert_file) && Boolean(t.key_file));

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const coreConfigSchema = v.object({
  mode: v.optional(v.picklist(['standalone', 'k8s'], 'expected "standalone" or "k8s"'), 'standalone'),
  listen_addr: v.optional(address, ':8080'),
  peer_listen_addr: v.optional(address, ':50051'),
  /** Address other nodes use to reach this one (defaults to peer_listen_addr). */
  advertise_addr: v.optional(address),
  node_id: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected a DNS label'))),
  data_dir: v.optional(v.pipe(v.string(), v.minLength(1)), './data'),
  initial_peers: v.optional(peerList, []),
  resource_limits: v.optional(
    v.strictObject({
      cpu: v.optional(quantity('resource_limits.cpu'), 4),
      memory: v.optional(quantity('resource_limits.memory', { integer: true }), 8 * 2 ** 30),
      gpu: v.optional(quantity('resource_limits.gpu', { integer: true }), 0),
      storage: v.optional(quantity('resource_limits.storage', { integer: true })),
    }),
    {},
  ),
  logging: v.optional(
    v.strictObject({
      level: v.optional(v.picklist(LOG_LEVELS, `expected one of ${LOG_LEVELS.join(', ')}`), 'info'),
      format: v.optional(v.picklist(['json'], 'only "json" is supported'), 'json'),
      /** stdout, stderr, or a file path. Rotation of a file is left to logrotate or the container runtime. */
      output: v.optional(v.pipe(v.string(), v.minLength(1)), 'stdout'),
      rotation: v.optional(
        v.strictObject({
          maxSize: v.optional(v.union([v.string(), v.number()])),
          maxAge: v.optional(v.number()),
          maxBackups: v.optional(v.number()),
          compress: v.optional(flag),
        }),
      ),
    }),
    {},
  ),
  tls: v.optional(
    v.pipe(
      v.strictObject(tlsFiles),
      v.check(requireFilesWhenEnabled, 'tls.enabled needs cert_file and key_file'),
    ),
    {},
  ),
  grpc: v.optional(
    v.strictObject({
      tls: v.optional(
        v.pipe(
          v.strictObject({ ...tlsFiles, ca_file: v.optional(v.string()) }),
          v.check(requireFilesWhenEnabled, 'grpc.tls.enabled needs cert_file and key_file'),
        ),
        {},
      ),
    }),
    {},
  ),
  http: v.optional(
    v.strictObject({
      /** Largest accepted request body; bigger ones get 413 before they are read in full. */
      body_limit: v.optional(quantity('http.body_limit', { integer: true }), 1024 * 1024),
      /** Seconds in-flight requests get to finish on SIGTERM. */
      shutdown_grace: v.optional(int(0, 3600), 10),
    }),
    {},
  ),
  /** Extra plugins: file paths (relative to the config file's directory or cwd) or package names. */
  plugins: v.optional(v.array(v.pipe(v.string(), v.minLength(1))), []),
  /** Built-in plugins to leave out, by name. */
  disable_plugins: v.optional(v.array(v.string()), []),
});

export type CoreConfig = v.InferOutput<typeof coreConfigSchema>;
export const CORE_KEYS = new Set(Object.keys(coreConfigSchema.entries));

export interface LoadedConfig {
  core: CoreConfig;
  /** Every top-level section that is not a core key, for plugins to validate. */
  sections: Record<string, unknown>;
  /** Where each layer came from, for error messages and `iarnet config`. */
  file?: string;
}

export function issuesToFields(issues: readonly v.BaseIssue<unknown>[], prefix = ''): FieldError[] {
  return issues.map((issue) => {
    const path = (issue.path ?? []).map((p) => String(p.key)).join('.');
    return { path: [prefix, path].filter(Boolean).join('.') || '(root)', message: issue.message };
  });
}

type Tree = Record<string, unknown>;
const isTree = (x: unknown): x is Tree => typeof x === 'object' && x !== null && !Array.isArray(x);

export function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, val] of Object.entries(over)) {
    out[k] = isTree(val) && isTree(out[k]) ? deepMerge(out[k] as Tree, val) : val;
  }
  return out;
}

export function readConfigFile(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError([{ path: '--config', message: `cannot read ${path}: ${(e as Error).message}` }]);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text) ?? {};
  } catch (e) {
    throw new ConfigError([
      { path: '(file)', message: `${path} is not valid YAML: ${(e as Error).message}` },
    ]);
  }
  if (!isTree(parsed)) throw new ConfigError([{ path: '(file)', message: `${path} must contain a mapping` }]);
  return parsed;
}

/** IARNET_A__B=x → {a: {b: "x"}}. LOG_LEVEL (the design document's compose file) maps to logging.level. */
export function envToTree(env: Record<string, string | undefined>): Tree {
  const tree: Tree = {};
  const set = (path: string[], value: string) => {
    let node = tree;
    for (const key of path.slice(0, -1)) {
      if (!isTree(node[key])) node[key] = {};
      node = node[key] as Tree;
    }
    node[path.at(-1)!] = value;
  };
  if (env.LOG_LEVEL) set(['logging', 'level'], env.LOG_LEVEL);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('IARNET_') || value === undefined) continue;
    // Not config keys: these are read by the CLI or a plugin directly.
    if (name === 'IARNET_CONFIG' || name === 'IARNET_ADMIN_PASSWORD') continue;
    set(name.slice('IARNET_'.length).toLowerCase().split('__'), value);
  }
  return tree;
}

export interface ConfigFlags {
  config?: string;
  listen?: string;
  'peer-listen'?: string;
  'initial-peers'?: string;
  'data-dir'?: string;
  mode?: string;
  'log-level'?: string;
}

export function flagsToTree(flags: ConfigFlags): Tree {
  const tree: Tree = {};
  if (flags.listen !== undefined) tree.listen_addr = flags.listen;
  if (flags['peer-listen'] !== undefined) tree.peer_listen_addr = flags['peer-listen'];
  if (flags['initial-peers'] !== undefined) tree.initial_peers = flags['initial-peers'];
  if (flags['data-dir'] !== undefined) tree.data_dir = flags['data-dir'];
  if (flags.mode !== undefined) tree.mode = flags.mode;
  if (flags['log-level'] !== undefined) tree.logging = { level: flags['log-level'] };
  return tree;
}

/** Merge the layers and validate the core keys. Plugin sections are validated by the loader. */
export function loadConfig(opts: {
  flags?: ConfigFlags;
  env?: Record<string, string | undefined>;
  file?: string;
  overrides?: Tree;
}): LoadedConfig {
  const env = opts.env ?? {};
  const file = opts.file ?? opts.flags?.config ?? env.IARNET_CONFIG;
  let merged: Tree = file ? readConfigFile(file) : {};
  merged = deepMerge(merged, envToTree(env));
  merged = deepMerge(merged, flagsToTree(opts.flags ?? {}));
  if (opts.overrides) merged = deepMerge(merged, opts.overrides);

  const coreInput: Tree = {};
  const sections: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(merged)) (CORE_KEYS.has(k) ? coreInput : sections)[k] = val;

  const result = v.safeParse(coreConfigSchema, coreInput);
  if (!result.success) throw new ConfigError(issuesToFields(result.issues), file);
  return { core: result.output, sections, ...(file ? { file } : {}) };
}

/** Split "host:port" into parts; an empty host means every interface. */
export function splitAddress(addr: string): { host: string; port: number } {
  const m = ADDRESS.exec(addr);
  if (!m) throw new Error(`not an address: ${addr}`);
  const host = addr.slice(0, addr.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return { host: host || '0.0.0.0', port: Number(m[1]) };
}
