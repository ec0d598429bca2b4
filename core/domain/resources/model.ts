/**
 * The resources API's schemas (valibot): what clients send and what they get back. They validate
 * requests and document them in the OpenAPI spec. The output is the design document's Resource
 * (section 5.1) — cpu in cores, memory and storage in GB (GiB, 2^30 bytes) — plus which
 * credentials are stored (never their values).
 *
 * Rules only the service can check (URL per type, addresses, credentials per type) are applied
 * there and reported the same way: 400 with a field error.
 */
import * as v from 'valibot';
import { URL_MAX } from './endpoint.ts';
import { RESOURCE_STATUSES, RESOURCE_TYPES } from './types.ts';

// ------------------------------------------------------------------ building blocks

/** C0/C1 controls, line/paragraph separators and bidi overrides (which disguise text). */
const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
/** The same, but multi-line text may keep tabs and line breaks. */
const hasControlExceptNewlines = (s: string) => CONTROL.test(s.replace(/\r?\n|\t/g, ''));

const line = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.minLength(min, min === 1 ? 'must not be empty' : `must be at least ${min} characters`),
    v.maxLength(max, `must be at most ${max} characters`),
    v.check((s) => !CONTROL.test(s), 'must not contain control characters'),
  );

export const NAME_MAX = 63;
export const PEM_MAX = 64 * 1024;
export const TOKEN_MAX = 16 * 1024;
export const TAGS_MAX = 20;
export const TAG_MAX = 32;

export const ResourceName = v.pipe(
  line(1, NAME_MAX),
  v.check((s) => s.trim() === s, 'must not start or end with spaces'),
  v.description('Unique name, 1–63 characters'),
);
export const ResourceTypeSchema = v.pipe(
  v.picklist(RESOURCE_TYPES, `expected one of ${RESOURCE_TYPES.join(', ')}`),
  v.description('docker: an engine (unix socket, tcp, https); vm: Docker over SSH; kubernetes: a cluster'),
);
const ResourceUrl = v.pipe(
  v.string(),
  v.minLength(1, 'is required'),
  v.maxLength(URL_MAX, `must be at most ${URL_MAX} characters`),
  v.description(
    'docker: unix:///var/run/docker.sock, tcp://host:2375 or https://host:2376; vm: ssh://user@host:22; ' +
      'kubernetes: https://host:6443 (http:// only for loopback)',
  ),
);
const Token = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty; send null to remove the token'),
  v.maxLength(TOKEN_MAX, `must be at most ${TOKEN_MAX} characters`),
  v.check((s) => !CONTROL.test(s), 'must not contain control characters'),
  v.description('Bearer token (Kubernetes, a token-checking Docker proxy) or SSH password. Write-only.'),
);
/** DNS-1123 label: what Kubernetes accepts as a namespace name. */
export const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const NAMESPACE_MAX = 63;
const Namespace = v.pipe(
  v.string(),
  v.maxLength(NAMESPACE_MAX, `must be at most ${NAMESPACE_MAX} characters`),
  // A regex (not a check) so the spec carries it as `pattern`; it refuses the empty string too.
  v.regex(
    NAMESPACE_RE,
    'must be a Kubernetes namespace name: lowercase letters, digits and -, starting and ending with a letter or digit',
  ),
  v.description(
    'kubernetes only: the namespace its pods go to. Absent: the runner’s default (runner_kubernetes.namespace)',
  ),
);
const Pem = (what: string) =>
  v.pipe(
    v.string(),
    v.maxLength(PEM_MAX, `must be at most ${PEM_MAX} bytes`),
    v.regex(/-----BEGIN [A-Z0-9 ]{1,64}-----/, `must be a PEM ${what}`),
    v.check((s) => !s.includes('\u0000'), 'must not contain NUL characters'),
    v.description(`PEM ${what}. Write-only.`),
  );
const Description = v.pipe(
  v.string(),
  v.maxLength(1024, 'must be at most 1024 characters'),
  v.check((s) => !hasControlExceptNewlines(s), 'must not contain control characters'),
);
const Location = line(1, 128);
const Tag = line(1, TAG_MAX);
const Tags = v.pipe(
  v.array(Tag),
  v.maxLength(TAGS_MAX, `at most ${TAGS_MAX} tags`),
  v.description(`Up to ${TAGS_MAX} labels of at most ${TAG_MAX} characters`),
);
const positive = (what: string, max: number) =>
  v.pipe(
    v.number(`expected a number of ${what}`),
    v.finite('must be a finite number'),
    v.gtValue(0, 'must be greater than 0'),
    v.maxValue(max, `must be at most ${max}`),
  );
const Limits = v.strictObject({
  cpu: v.optional(v.pipe(positive('cores', 100_000), v.description('Cores'))),
  memory: v.optional(v.pipe(positive('GB', 1_000_000), v.description('GB (GiB)'))),
  gpu: v.optional(
    v.pipe(
      v.number('expected a number of cards'),
      v.integer('must be a whole number'),
      v.minValue(0, 'must not be negative'),
      v.maxValue(1024, 'must be at most 1024'),
      v.description('Cards'),
    ),
  ),
});
const SshUser = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/, 'must be a user name (letters, digits, _ . -; at most 32)'),
);
const Port = v.pipe(
  v.number(),
  v.integer('must be a whole number'),
  v.minValue(1, 'must be between 1 and 65535'),
  v.maxValue(65535, 'must be between 1 and 65535'),
);
const HostKey = v.pipe(
  v.string(),
  v.regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'must be an OpenSSH fingerprint: SHA256:<43 base64 characters>'),
  v.description('Fingerprint the VM’s host key must have, as `ssh-keygen -lf` prints it'),
);
const SshPassword = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty; send null to remove it'),
  v.maxLength(1024, 'must be at most 1024 characters'),
  v.check((s) => !CONTROL.test(s), 'must not contain control characters'),
  v.description('Write-only'),
);

const TlsCreate = v.strictObject({
  ca: v.optional(Pem('CA certificate bundle')),
  cert: v.optional(Pem('client certificate')),
  key: v.optional(Pem('client private key')),
  skipVerify: v.optional(
    v.pipe(
      v.boolean(),
      v.description('Encrypt but do not verify the server’s certificate (not recommended)'),
    ),
  ),
});
const SshCreate = v.strictObject({
  username: SshUser,
  privateKey: v.optional(Pem('private key')),
  password: v.optional(SshPassword),
  port: v.optional(Port),
  hostKey: v.optional(HostKey),
});

const metadata = {
  description: v.optional(Description),
  tags: v.optional(Tags),
  location: v.optional(Location),
  limits: v.optional(v.pipe(Limits, v.description('Caps below what the engine reports'))),
};

export const CreateResourceBody = v.strictObject({
  name: ResourceName,
  type: ResourceTypeSchema,
  url: ResourceUrl,
  token: v.optional(Token),
  tls: v.optional(TlsCreate),
  ssh: v.optional(v.pipe(SshCreate, v.description('vm only'))),
  namespace: v.optional(Namespace),
  ...metadata,
});
export type CreateResourceInput = v.InferOutput<typeof CreateResourceBody>;

/** Same fields as create; name optional, metadata accepted and ignored (the dashboard sends its form). */
export const TestConnectionBody = v.strictObject({
  ...CreateResourceBody.entries,
  name: v.optional(ResourceName),
});
export type TestConnectionInput = v.InferOutput<typeof TestConnectionBody>;

/**
 * Partial update. Omitted fields keep their value. `null` clears an optional field
 * (description, location, limits, token, tls, ssh, namespace, and each credential inside tls/ssh).
 * Credentials inside tls/ssh that are omitted keep the stored ones.
 */
export const UpdateResourceBody = v.pipe(
  v.strictObject({
    name: v.optional(ResourceName),
    type: v.optional(ResourceTypeSchema),
    url: v.optional(ResourceUrl),
    token: v.optional(v.nullable(Token)),
    tls: v.optional(
      v.nullable(
        v.strictObject({
          ca: v.optional(v.nullable(TlsCreate.entries.ca.wrapped)),
          cert: v.optional(v.nullable(TlsCreate.entries.cert.wrapped)),
          key: v.optional(v.nullable(TlsCreate.entries.key.wrapped)),
          skipVerify: TlsCreate.entries.skipVerify,
        }),
      ),
    ),
    ssh: v.optional(
      v.nullable(
        v.strictObject({
          username: v.optional(SshUser),
          privateKey: v.optional(v.nullable(Pem('private key'))),
          password: v.optional(v.nullable(SshPassword)),
          port: v.optional(v.nullable(Port)),
          hostKey: v.optional(v.nullable(HostKey)),
        }),
      ),
    ),
    namespace: v.optional(v.nullable(Namespace)),
    description: v.optional(v.nullable(Description)),
    tags: v.optional(Tags),
    location: v.optional(v.nullable(Location)),
    limits: v.optional(v.nullable(Limits)),
  }),
  v.minEntries(1, 'give at least one field to change'),
);
export type UpdateResourceInput = v.InferOutput<typeof UpdateResourceBody>;

export const ResourceIdParam = v.object({
  id: v.pipe(v.string(), v.regex(/^res_[0-9a-f]{20}$/, 'is not a resource id (res_ + 20 hex digits)')),
});
const booleanQuery = v.picklist(['true', 'false'], 'expected true or false');
export const VerifyQuery = v.strictObject({
  verify: v.optional(
    v.pipe(
      booleanQuery,
      v.description('true: test the connection first and answer 422 (saving nothing) when it fails'),
    ),
  ),
});
export const ForceQuery = v.strictObject({
  force: v.optional(
    v.pipe(booleanQuery, v.description('true: delete even when workloads run on it (they are stopped)')),
  ),
});

// ------------------------------------------------------------------ output

const Timestamp = v.pipe(v.string(), v.description('ISO 8601 date-time (UTC)'));
const Amount = (unit: string) =>
  v.pipe(
    v.object({ total: v.number(), used: v.number(), available: v.number() }),
    v.description(
      `${unit}. total: what the engine reports, capped by limits; used: reserved by IARNet workloads`,
    ),
  );

export const ResourceSchema = v.pipe(
  v.object({
    id: v.string(),
    name: v.string(),
    type: v.picklist(RESOURCE_TYPES),
    url: v.string(),
    status: v.pipe(
      v.picklist(RESOURCE_STATUSES),
      v.description(
        'connected: answering; unreachable: cannot be reached now; disconnected: not checked yet; error: unusable as configured',
      ),
    ),
    statusReason: v.optional(v.pipe(v.string(), v.description('Why it is unreachable or in error'))),
    namespace: v.optional(
      v.pipe(
        v.string(),
        v.description(
          'kubernetes: the namespace its pods go to (built-in: its ServiceAccount’s). Absent: the runner’s default',
        ),
      ),
    ),
    cpu: Amount('Cores'),
    memory: Amount('GB (GiB)'),
    storage: Amount('GB (GiB); used is not tracked yet (0)'),
    gpu: v.optional(Amount('Cards')),
    capacity: v.optional(
      v.pipe(
        v.object({
          cpu: v.number(),
          memory: v.number(),
          gpu: v.number(),
          storage: v.optional(v.number()),
          description: v.optional(v.string()),
        }),
        v.description('What the engine reported at lastUpdated (cores, GB, cards, GB), before limits'),
      ),
    ),
    measured: v.optional(
      v.pipe(
        v.object({
          cpu: v.pipe(v.number(), v.description('Cores in use')),
          memory: v.pipe(v.number(), v.description('GB (GiB) in use (working set)')),
          at: v.pipe(Timestamp, v.description('When the engine sampled it (the oldest sample included)')),
          scope: v.pipe(
            v.picklist(['workloads']),
            v.description(
              'workloads: IARNet’s own workloads on the resource (for a cluster, pods labelled iarnet.alloc in its namespace)',
            ),
          ),
          count: v.pipe(v.number(), v.description('Workloads the engine had a sample for')),
        }),
        v.description(
          'What IARNet’s workloads measurably use, as the engine’s metrics say (Kubernetes: metrics.k8s.io), at the ' +
            'last refresh; absent when the engine serves no metrics. Advisory: used/available come from reservations',
        ),
      ),
    ),
    limits: v.optional(
      v.object({ cpu: v.optional(v.number()), memory: v.optional(v.number()), gpu: v.optional(v.number()) }),
    ),
    description: v.optional(v.string()),
    tags: v.array(v.string()),
    location: v.optional(v.string()),
    hasToken: v.boolean(),
    credentials: v.pipe(
      v.object({
        hasCa: v.boolean(),
        hasCert: v.boolean(),
        hasKey: v.boolean(),
        tlsSkipVerify: v.boolean(),
        sshUser: v.optional(v.string()),
        sshPort: v.optional(v.number()),
        hasSshKey: v.boolean(),
        hasSshPassword: v.boolean(),
        sshHostKey: v.optional(v.string()),
      }),
      v.description('Which credentials are stored; their values are never returned'),
    ),
    builtin: v.pipe(
      v.boolean(),
      v.description('Registered by the node itself (the local engine); its URL cannot be changed'),
    ),
    lastUpdated: v.pipe(Timestamp, v.description('Last successful capacity refresh')),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  }),
  v.title('Resource'),
);
export type ResourceOut = v.InferOutput<typeof ResourceSchema>;

export const ConnectionTestSchema = v.pipe(
  v.variant('ok', [
    v.object({
      ok: v.literal(true),
      capacity: v.object({
        cpu: v.pipe(v.number(), v.description('Cores')),
        memory: v.pipe(v.number(), v.description('GB (GiB)')),
        gpu: v.pipe(v.number(), v.description('Cards')),
        storage: v.optional(v.pipe(v.number(), v.description('GB (GiB)'))),
      }),
      description: v.optional(v.string()),
    }),
    v.object({
      ok: v.literal(false),
      error: v.pipe(v.string(), v.description('Generic reason; never the endpoint’s own answer')),
    }),
  ]),
  v.title('ConnectionTest'),
);
export type ConnectionTestOut = v.InferOutput<typeof ConnectionTestSchema>;
