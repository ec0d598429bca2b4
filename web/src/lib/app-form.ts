/**
 * The application form: its values (strings, as inputs hold them), client-side checks mirroring
 * the server's valibot schema (core/domain/applications/model.ts), the mapping to the API body,
 * and where a server field error belongs. The server stays the authority (it also applies the
 * administrator's Git URL policy, which the browser does not know).
 */
import type { BodyOf, JsonOf } from '../api/types';
import type { MessageKey } from './i18n';

export type Application = JsonOf<'/api/applications/{id}'>;
export type RepoInfo = JsonOf<'/api/applications/parse-git', 'post'>;
export type CreateBody = BodyOf<'/api/applications', 'post'>;
export type UpdateBody = BodyOf<'/api/applications/{id}', 'put'>;

export const APP_TYPES = ['web', 'api', 'worker', 'database'] as const;
export type AppType = (typeof APP_TYPES)[number];

export interface EnvRow {
  name: string;
  value: string;
  secret: boolean;
  /** A stored secret (edit only): an empty value keeps it. */
  stored?: boolean;
}
export interface PortRow {
  containerPort: string;
  servicePort: string;
  protocol: 'TCP' | 'UDP';
}

export interface AppFormValues {
  name: string;
  description: string;
  type: AppType;
  gitUrl: string;
  branch: string;
  commitHash: string;
  /** Write-only: sent when given, never read back. */
  gitToken: string;
  image: string;
  command: string;
  env: EnvRow[];
  cpu: string;
  memory: string;
  gpu: string;
  storage: string;
  ports: PortRow[];
  healthCheck: boolean;
  hcPath: string;
  hcPort: string;
  hcInterval: string;
  hcTimeout: string;
  instances: string;
}

export type AppField = Exclude<keyof AppFormValues, 'healthCheck'>;
export type Problem = { key: MessageKey; params?: Record<string, string | number> };
export type AppErrors = Partial<Record<AppField, Problem>>;

export const emptyAppForm = (): AppFormValues => ({
  name: '',
  description: '',
  type: 'web',
  gitUrl: '',
  branch: '',
  commitHash: '',
  gitToken: '',
  image: '',
  command: '',
  env: [],
  cpu: '0.5',
  memory: '0.5',
  gpu: '',
  storage: '',
  ports: [],
  healthCheck: false,
  hcPath: '/healthz',
  hcPort: '',
  hcInterval: '10',
  hcTimeout: '5',
  instances: '1',
});

/** The form for an existing application; secret values are never sent back, so they stay empty. */
export function formFromApp(a: Application): AppFormValues {
  return {
    ...emptyAppForm(),
    name: a.name,
    description: a.description,
    type: a.type,
    gitUrl: a.gitUrl,
    branch: a.branch,
    commitHash: a.commitHash ?? '',
    image: a.image ?? '',
    command: a.command ? joinCommand(a.command) : '',
    env: Object.entries(a.env).map(([name, v]) =>
      typeof v === 'string'
        ? { name, value: v, secret: false }
        : { name, value: '', secret: true, stored: true },
    ),
    cpu: String(a.resources.cpu),
    memory: String(a.resources.memory),
    gpu: a.resources.gpu ? String(a.resources.gpu) : '',
    storage: a.resources.storage ? String(a.resources.storage) : '',
    ports: a.ports.map((p) => ({
      containerPort: String(p.containerPort),
      servicePort: p.servicePort ? String(p.servicePort) : '',
      protocol: p.protocol,
    })),
    healthCheck: !!a.healthCheck,
    ...(a.healthCheck
      ? {
          hcPath: a.healthCheck.path,
          hcPort: String(a.healthCheck.port),
          hcInterval: String(a.healthCheck.interval),
          hcTimeout: String(a.healthCheck.timeout),
        }
      : {}),
    instances: String(a.instances),
  };
}

/** Quick import: what parse-git found fills the form (the user may still change everything). */
export function prefillFromRepo(f: AppFormValues, gitUrl: string, info: RepoInfo): AppFormValues {
  const port = info.defaultPort;
  return {
    ...f,
    gitUrl,
    name: f.name || info.name,
    type: info.type,
    branch: info.branch,
    commitHash: info.commitHash,
    ports:
      port && f.ports.length === 0
        ? [{ containerPort: String(port), servicePort: '', protocol: 'TCP' }]
        : f.ports,
    hcPort: f.hcPort || (port ? String(port) : ''),
  };
}

// ------------------------------------------------------------------ command (argv)

/**
 * The command as the user types it: words split on spaces, "double" or 'single' quotes keep
 * spaces. It becomes an argv array; the server never runs it through a shell.
 */
export function splitCommand(raw: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let inWord = false;
  for (const ch of raw) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quote) return undefined;
  if (inWord) out.push(cur);
  return out;
}

export function joinCommand(argv: string[]): string {
  return argv.map((a) => (a === '' || /[\s"']/.test(a) ? `'${a.replaceAll("'", '"')}'` : a)).join(' ');
}

// ------------------------------------------------------------------ checks

const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const IMAGE =
  /^[a-z0-9]+([._-]+[a-z0-9]+)*(:[0-9]{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
const COMMIT = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

interface NumberRule {
  min: number;
  max: number;
  integer?: boolean;
  exclusiveMin?: boolean;
}

/** A number field's problem (the server's `number()` rules), or its value. */
function checkNumber(raw: string, rule: NumberRule): Problem | number {
  const s = raw.trim();
  if (s === '') return { key: 'app.v.required' };
  const n = Number(s);
  if (!Number.isFinite(n)) return { key: 'app.v.number' };
  if (rule.integer && !Number.isInteger(n)) return { key: 'app.v.integer' };
  if (rule.exclusiveMin ? n <= rule.min : n < rule.min) {
    return rule.exclusiveMin
      ? { key: 'app.v.greater', params: { min: rule.min } }
      : { key: 'app.v.range', params: { min: rule.min, max: rule.max } };
  }
  if (n > rule.max) return { key: 'app.v.range', params: { min: rule.min, max: rule.max } };
  return n;
}

const RULES = {
  cpu: { min: 0, max: 1024, exclusiveMin: true },
  memory: { min: 0, max: 65_536, exclusiveMin: true },
  gpu: { min: 0, max: 64, integer: true },
  storage: { min: 0, max: 1_000_000 },
  port: { min: 1, max: 65_535, integer: true },
  seconds: { min: 1, max: 3600, integer: true },
  instances: { min: 1, max: 100, integer: true },
} satisfies Record<string, NumberRule>;

function line(raw: string, max: number, required: boolean): Problem | undefined {
  if (required && raw.length === 0) return { key: 'app.v.required' };
  if (raw.length > max) return { key: 'app.v.tooLong', params: { max } };
  if (CONTROL.test(raw)) return { key: 'app.v.control' };
  return undefined;
}

/** Every problem the server would report for these values (before it looks at Git). */
export function validateApp(f: AppFormValues): AppErrors {
  const e: AppErrors = {};
  const put = (field: AppField, p: Problem | number | undefined) => {
    if (p !== undefined && typeof p !== 'number' && !e[field]) e[field] = p;
  };
  if (!NAME.test(f.name)) put('name', { key: f.name ? 'app.v.name' : 'app.v.required' });
  if (f.description.length > 1024) put('description', { key: 'app.v.tooLong', params: { max: 1024 } });
  else if (CONTROL.test(f.description.replace(/\r?\n|\t/g, ''))) put('description', { key: 'app.v.control' });
  const gitUrl = f.gitUrl.trim();
  const image = f.image.trim();
  if (!gitUrl && !image) put('image', { key: 'app.v.gitOrImage' });
  if (gitUrl) put('gitUrl', line(gitUrl, 2048, false));
  if (f.branch) put('branch', line(f.branch, 255, true));
  if (f.commitHash && !COMMIT.test(f.commitHash)) put('commitHash', { key: 'app.v.commit' });
  if (f.gitToken) put('gitToken', line(f.gitToken, 4096, true));
  if (image && (image.length > 512 || !IMAGE.test(image))) put('image', { key: 'app.v.image' });
  if (f.command.trim()) {
    const argv = splitCommand(f.command);
    if (!argv) put('command', { key: 'app.v.quote' });
    else if (argv.length > 256) put('command', { key: 'app.v.tooMany', params: { max: 256 } });
    else if (argv.some((a) => a.length > 4096 || a.includes('\u0000')))
      put('command', { key: 'app.v.tooLong', params: { max: 4096 } });
  }
  const names = new Set<string>();
  for (const row of f.env) {
    if (!ENV_NAME.test(row.name)) put('env', { key: 'app.v.envName', params: { name: row.name } });
    else if (names.has(row.name)) put('env', { key: 'app.v.envDup', params: { name: row.name } });
    else if (row.value.length > 32 * 1024 || row.value.includes('\u0000'))
      put('env', { key: 'app.v.tooLong', params: { max: 32 * 1024 } });
    names.add(row.name);
  }
  if (f.env.length > 200) put('env', { key: 'app.v.tooMany', params: { max: 200 } });
  put('cpu', checkNumber(f.cpu, RULES.cpu));
  put('memory', checkNumber(f.memory, RULES.memory));
  if (f.gpu.trim()) put('gpu', checkNumber(f.gpu, RULES.gpu));
  if (f.storage.trim()) put('storage', checkNumber(f.storage, RULES.storage));
  for (const p of f.ports) {
    put('ports', checkNumber(p.containerPort, RULES.port));
    if (p.servicePort.trim()) put('ports', checkNumber(p.servicePort, RULES.port));
  }
  if (f.ports.length > 64) put('ports', { key: 'app.v.tooMany', params: { max: 64 } });
  if (f.healthCheck) {
    const path = f.hcPath;
    put('hcPath', line(path, 1024, true));
    if (path && !path.startsWith('/')) put('hcPath', { key: 'app.v.slash' });
    if (/\s/.test(path)) put('hcPath', { key: 'app.v.spaces' });
    put('hcPort', checkNumber(f.hcPort, RULES.port));
    const interval = checkNumber(f.hcInterval, RULES.seconds);
    const timeout = checkNumber(f.hcTimeout, RULES.seconds);
    put('hcInterval', interval);
    put('hcTimeout', timeout);
    if (typeof interval === 'number' && typeof timeout === 'number' && timeout > interval) {
      put('hcTimeout', { key: 'app.v.timeout' });
    }
  }
  put('instances', checkNumber(f.instances, RULES.instances));
  return e;
}

// ------------------------------------------------------------------ body

const num = (s: string) => Number(s.trim());

function envBody(rows: EnvRow[]): NonNullable<CreateBody['env']> {
  const out: NonNullable<CreateBody['env']> = {};
  for (const r of rows) {
    if (!r.secret) out[r.name] = r.value;
    else if (r.stored && r.value === '') out[r.name] = { secret: true };
    else out[r.name] = { value: r.value, secret: true };
  }
  return out;
}

/** The create body; only call after validateApp found nothing. */
export function toCreateBody(f: AppFormValues): CreateBody {
  const argv = f.command.trim() ? splitCommand(f.command) : undefined;
  return {
    name: f.name,
    type: f.type,
    ...(f.description ? { description: f.description } : {}),
    ...(f.gitUrl.trim() ? { gitUrl: f.gitUrl.trim() } : {}),
    ...(f.gitUrl.trim() && f.branch ? { branch: f.branch } : {}),
    ...(f.gitUrl.trim() && f.commitHash ? { commitHash: f.commitHash } : {}),
    ...(f.gitUrl.trim() && f.gitToken ? { gitToken: f.gitToken } : {}),
    ...(f.image.trim() ? { image: f.image.trim() } : {}),
    ...(argv?.length ? { command: argv } : {}),
    ...(f.env.length ? { env: envBody(f.env) } : {}),
    resources: {
      cpu: num(f.cpu),
      memory: num(f.memory),
      ...(f.gpu.trim() ? { gpu: num(f.gpu) } : {}),
      ...(f.storage.trim() ? { storage: num(f.storage) } : {}),
    },
    ...(f.ports.length
      ? {
          ports: f.ports.map((p) => ({
            containerPort: num(p.containerPort),
            ...(p.servicePort.trim() ? { servicePort: num(p.servicePort) } : {}),
            protocol: p.protocol,
          })),
        }
      : {}),
    ...(f.healthCheck
      ? {
          healthCheck: {
            path: f.hcPath,
            port: num(f.hcPort),
            interval: num(f.hcInterval),
            timeout: num(f.hcTimeout),
          },
        }
      : {}),
    instances: num(f.instances),
  };
}

/** The update body: every field, with null clearing what the form left empty. */
export function toUpdateBody(f: AppFormValues): UpdateBody {
  const c = toCreateBody(f);
  return {
    ...c,
    description: f.description,
    gitUrl: c.gitUrl ?? '',
    commitHash: c.commitHash ?? null,
    image: c.image ?? null,
    command: c.command ?? null,
    env: c.env ?? {},
    ports: c.ports ?? [],
    healthCheck: c.healthCheck ?? null,
  };
}

/** The form field a server error path belongs to ("resources.cpu" → cpu), if any. */
export function appFieldForPath(path: string): AppField | undefined {
  const [head, second] = path.split('.');
  const direct: Record<string, AppField> = {
    name: 'name',
    description: 'description',
    type: 'type',
    gitUrl: 'gitUrl',
    branch: 'branch',
    commitHash: 'commitHash',
    gitToken: 'gitToken',
    image: 'image',
    command: 'command',
    env: 'env',
    ports: 'ports',
    instances: 'instances',
  };
  if (head && head in direct) return direct[head];
  if (
    head === 'resources' &&
    (second === 'cpu' || second === 'memory' || second === 'gpu' || second === 'storage')
  )
    return second;
  if (head === 'healthCheck') {
    const hc: Record<string, AppField> = {
      path: 'hcPath',
      port: 'hcPort',
      interval: 'hcInterval',
      timeout: 'hcTimeout',
    };
    return (second && hc[second]) || 'hcTimeout';
  }
  return undefined;
}
