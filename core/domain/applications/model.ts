/**
 * The applications API's schemas (valibot): the design document's Application (section 5.2) as
 * clients send and receive it. They validate requests and document them in the OpenAPI spec.
 *
 * Server-managed fields (status, instances running, runningOn, lastDeployed, timestamps) are
 * never taken from clients. Secret environment values and the Git token are write-only: an env
 * entry marked secret comes back as `{secret: true}`, the token as `hasGitToken`.
 * The Git URL and branch get the Git service's stricter checks in the service (same 400 shape).
 */
import * as v from 'valibot';
import { APP_TYPES } from '../../slots/git.ts';
import { APP_STATUSES } from './schema.ts';

/** C0/C1 controls, line/paragraph separators and bidi overrides (which disguise text). */
const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const noControl = (s: string) => !CONTROL.test(s);

const line = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.minLength(min, min === 1 ? 'must not be empty' : `must be at least ${min} characters`),
    v.maxLength(max, `must be at most ${max} characters`),
    v.check(noControl, 'must not contain control characters'),
  );

const number = (
  what: string,
  min: number,
  max: number,
  opts: { integer?: boolean; exclusiveMin?: boolean } = {},
) =>
  v.pipe(
    v.number(`${what} must be a number`),
    v.finite(`${what} must be finite`),
    v.check((n: number) => !opts.integer || Number.isInteger(n), `${what} must be a whole number`),
    v.check(
      (n: number) => (opts.exclusiveMin ? n > min : n >= min),
      opts.exclusiveMin ? `${what} must be greater than ${min}` : `${what} must be at least ${min}`,
    ),
    v.maxValue(max, `${what} must be at most ${max}`),
  );

export const NAME_MAX = 63;
export const ENV_MAX = 200;
export const ENV_VALUE_MAX = 32 * 1024;
export const COMMAND_MAX = 256;

export const AppName = v.pipe(
  v.string(),
  v.regex(
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    'use 1-63 lower-case letters, digits and "-", starting and ending with a letter or digit',
  ),
  v.description('Unique name (a DNS label, so it can name containers and services)'),
);
const AppTypeSchema = v.pipe(
  v.picklist(APP_TYPES, `expected one of ${APP_TYPES.join(', ')}`),
  v.description('web | api | worker | database'),
);
const Description = v.pipe(
  v.string(),
  v.maxLength(1024, 'must be at most 1024 characters'),
  v.check((s) => noControl(s.replace(/\r?\n|\t/g, '')), 'must not contain control characters'),
);
const GitUrl = v.pipe(
  v.string(),
  v.maxLength(2048, 'must be at most 2048 characters'),
  v.description('https://host/owner/repo.git (other schemes only where the administrator allowed them)'),
);
const Branch = v.pipe(line(1, 255), v.description('Branch or tag; defaults to main'));
const CommitHash = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'must be a full commit hash (40 or 64 hex digits)'),
);
const GitToken = v.pipe(
  line(1, 4096),
  v.description('Access token for a private repository (sent as HTTP Basic x-access-token). Write-only.'),
);
const Image = v.pipe(
  v.string(),
  v.maxLength(512, 'must be at most 512 characters'),
  v.regex(
    /^[a-z0-9]+([._-]+[a-z0-9]+)*(:[0-9]{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/,
    'must be an image reference such as nginx:1.27 or registry.example.com/team/app@sha256:…',
  ),
  v.description('Container image; when set, deploy runs it without building'),
);
const Command = v.pipe(
  v.array(
    v.pipe(
      v.string(),
      v.maxLength(4096, 'must be at most 4096 characters'),
      v.check((s) => !s.includes('\u0000'), 'must not contain NUL'),
    ),
  ),
  v.minLength(1, 'must have at least one element, or be omitted'),
  v.maxLength(COMMAND_MAX, `at most ${COMMAND_MAX} elements`),
  v.description('Start command as an argv array (never run through a shell)'),
);
const EnvName = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z_][A-Za-z0-9_]{0,255}$/, 'environment variable names use letters, digits and _'),
);
const EnvValue = v.pipe(
  v.string(),
  v.maxLength(ENV_VALUE_MAX, `must be at most ${ENV_VALUE_MAX} characters`),
  v.check((s) => !s.includes('\u0000'), 'must not contain NUL'),
);
const EnvInputValue = v.union([
  EnvValue,
  v.strictObject({
    value: v.optional(EnvValue),
    secret: v.optional(v.boolean()),
  }),
]);
const EnvInput = v.pipe(
  v.record(EnvName, EnvInputValue),
  v.check((r) => Object.keys(r).length <= ENV_MAX, `at most ${ENV_MAX} variables`),
  v.description(
    'NAME → value, or NAME → {value, secret: true} to store the value sealed and never return it. ' +
      'On update, {secret: true} without a value keeps the stored secret.',
  ),
);
export type EnvInputT = v.InferOutput<typeof EnvInput>;

const Resources = v.strictObject({
  cpu: v.pipe(number('cpu', 0, 1024, { exclusiveMin: true }), v.description('Cores')),
  memory: v.pipe(number('memory', 0, 65_536, { exclusiveMin: true }), v.description('GB')),
  gpu: v.optional(v.pipe(number('gpu', 0, 64, { integer: true }), v.description('Whole cards'))),
  storage: v.optional(v.pipe(number('storage', 0, 1_000_000), v.description('GB'))),
});
const Port = v.strictObject({
  containerPort: number('containerPort', 1, 65_535, { integer: true }),
  servicePort: v.optional(number('servicePort', 1, 65_535, { integer: true })),
  protocol: v.optional(v.picklist(['TCP', 'UDP'], 'expected TCP or UDP'), 'TCP'),
});
const Ports = v.pipe(v.array(Port), v.maxLength(64, 'at most 64 ports'));
const HealthCheck = v.pipe(
  v.strictObject({
    path: v.pipe(
      line(1, 1024),
      v.startsWith('/', 'must start with /'),
      v.check((s) => !/\s/.test(s), 'must not contain spaces'),
    ),
    port: number('port', 1, 65_535, { integer: true }),
    interval: v.pipe(number('interval', 1, 3600, { integer: true }), v.description('Seconds')),
    timeout: v.pipe(number('timeout', 1, 3600, { integer: true }), v.description('Seconds')),
  }),
  v.check((h) => h.timeout <= h.interval, 'timeout must not exceed interval'),
);
const Instances = v.pipe(number('instances', 1, 100, { integer: true }), v.description('Containers to run'));

export const CreateApplicationBody = v.pipe(
  v.strictObject({
    name: AppName,
    description: v.optional(Description),
    gitUrl: v.optional(GitUrl),
    branch: v.optional(Branch),
    commitHash: v.optional(CommitHash),
    gitToken: v.optional(GitToken),
    type: AppTypeSchema,
    image: v.optional(Image),
    command: v.optional(Command),
    env: v.optional(EnvInput),
    resources: Resources,
    ports: v.optional(Ports),
    healthCheck: v.optional(HealthCheck),
    instances: v.optional(Instances),
  }),
  v.check((b) => Boolean(b.gitUrl || b.image), 'give a gitUrl, an image, or both'),
);
export type CreateApplicationInput = v.InferOutput<typeof CreateApplicationBody>;

/** Partial update: omitted fields are kept; `null` clears the optional ones. */
export const UpdateApplicationBody = v.strictObject({
  name: v.optional(AppName),
  description: v.optional(Description),
  gitUrl: v.optional(GitUrl),
  branch: v.optional(Branch),
  commitHash: v.optional(v.nullable(CommitHash)),
  gitToken: v.optional(v.nullable(GitToken)),
  type: v.optional(AppTypeSchema),
  image: v.optional(v.nullable(Image)),
  command: v.optional(v.nullable(Command)),
  env: v.optional(EnvInput),
  resources: v.optional(Resources),
  ports: v.optional(Ports),
  healthCheck: v.optional(v.nullable(HealthCheck)),
  instances: v.optional(Instances),
});
export type UpdateApplicationInput = v.InferOutput<typeof UpdateApplicationBody>;

export const ParseGitBody = v.strictObject({
  gitUrl: v.pipe(GitUrl, v.minLength(1, 'is required')),
  branch: v.optional(Branch),
  gitToken: v.optional(GitToken),
});

const AppId = v.pipe(v.string(), v.regex(/^app_[0-9a-f]{20}$/, 'is not an application id'));
export const AppIdParam = v.object({ id: AppId });
export const DeployBody = v.strictObject({ applicationId: AppId });

// ------------------------------------------------------------------ output

const Timestamp = v.pipe(v.string(), v.isoTimestamp(), v.description('ISO 8601 date-time (UTC)'));

export const ApplicationSchema = v.pipe(
  v.object({
    id: v.string(),
    name: v.string(),
    description: v.string(),
    gitUrl: v.string(),
    branch: v.string(),
    commitHash: v.optional(v.string()),
    hasGitToken: v.boolean(),
    type: AppTypeSchema,
    image: v.optional(v.string()),
    command: v.optional(v.array(v.string())),
    env: v.pipe(
      v.record(v.string(), v.union([v.string(), v.object({ secret: v.literal(true) })])),
      v.description('Secret values are never returned: they appear as {secret: true}'),
    ),
    resources: v.object({
      cpu: v.number(),
      memory: v.number(),
      gpu: v.optional(v.number()),
      storage: v.optional(v.number()),
    }),
    ports: v.array(
      v.object({
        containerPort: v.number(),
        servicePort: v.optional(v.number()),
        protocol: v.picklist(['TCP', 'UDP']),
      }),
    ),
    healthCheck: v.optional(
      v.object({ path: v.string(), port: v.number(), interval: v.number(), timeout: v.number() }),
    ),
    status: v.picklist(APP_STATUSES),
    statusReason: v.optional(v.string()),
    instances: v.number(),
    runningOn: v.array(v.string()),
    lastDeployed: v.optional(Timestamp),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  }),
  v.title('Application'),
);
export type ApplicationOut = v.InferOutput<typeof ApplicationSchema>;

export const RepoInfoSchema = v.pipe(
  v.object({
    name: v.string(),
    type: AppTypeSchema,
    runtime: v.pipe(v.string(), v.description('docker, node, python, go, static or unknown')),
    defaultPort: v.nullable(v.number()),
    commitHash: v.string(),
    branch: v.string(),
    hasDockerfile: v.boolean(),
    detectedType: v.pipe(
      AppTypeSchema,
      v.description('Same as type (the name the design document’s UI uses)'),
    ),
  }),
  v.title('GitRepoInfo'),
);
