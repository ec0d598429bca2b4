/**
 * Request and response schemas of the design document's container API (section 3.4) and the
 * container operations around it. The same valibot schemas validate and document.
 */
import * as v from 'valibot';

// Docker's reference grammar: [registry[:port]/]name[/name...][:tag][@sha256:digest].
const IMAGE_REF =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const NO_CONTROL = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/;

export const ImageRef = v.pipe(
  v.string('image must be a string'),
  v.minLength(1, 'image is required'),
  v.maxLength(255, 'image names are at most 255 characters'),
  v.regex(IMAGE_REF, 'not an image reference (e.g. nginx:latest or registry.local:5000/team/app@sha256:…)'),
);

const Arg = v.pipe(
  v.string(),
  v.maxLength(4096, 'at most 4096 characters'),
  v.regex(NO_CONTROL, 'control characters are not allowed'),
);

export const EnvMap = v.pipe(
  v.record(
    v.pipe(
      v.string(),
      v.regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'environment names are letters, digits and _'),
    ),
    v.pipe(
      v.string(),
      v.maxLength(32_768, 'at most 32 KiB'),
      // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what it refuses
      v.regex(/^[^\u0000]*$/, 'NUL is not allowed'),
    ),
  ),
  v.check((env) => Object.keys(env).length <= 100, 'at most 100 variables'),
);

export const PortSpec = v.strictObject({
  containerPort: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
  hostPort: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
  protocol: v.optional(v.picklist(['tcp', 'udp', 'TCP', 'UDP']), 'tcp'),
});

const refused = (what: string) =>
  v.optional(v.literal(false, `${what}: IARNet never gives a container access to its host`));
const refusedList = (what: string) =>
  v.optional(
    v.pipe(
      v.array(v.unknown()),
      v.maxLength(0, `${what}: IARNet never gives a container access to its host`),
    ),
  );

export const RunBody = v.strictObject({
  image: ImageRef,
  command: v.optional(v.pipe(v.array(Arg), v.maxLength(64, 'at most 64 arguments'))),
  cpu: v.pipe(
    v.number('cpu must be a number of cores'),
    v.minValue(0.01, 'cpu must be at least 0.01 cores'),
    v.maxValue(1024, 'cpu must be at most 1024 cores'),
    v.description('CPU cores (fractional)'),
  ),
  memory: v.pipe(
    v.number('memory must be a number of GB'),
    v.minValue(0.01, 'memory must be at least 0.01 GB'),
    v.maxValue(65_536, 'memory must be at most 65536 GB'),
    v.description('Memory in GB (GiB)'),
  ),
  gpu: v.optional(
    v.pipe(
      v.number('gpu must be a number of cards'),
      v.integer('gpu is a whole number of cards'),
      v.minValue(0),
      v.maxValue(64),
      v.description('GPU cards'),
    ),
    0,
  ),
  env: v.optional(EnvMap),
  ports: v.optional(v.pipe(v.array(PortSpec), v.maxLength(32))),
  resource_id: v.optional(v.pipe(v.string(), v.maxLength(64), v.description('Run on this resource only'))),
  privileged: refused('privileged'),
  host_network: refused('host_network'),
  host_pid: refused('host_pid'),
  volumes: refusedList('volumes'),
  cap_add: refusedList('cap_add'),
  devices: refusedList('devices'),
});
export type RunBodyInput = v.InferOutput<typeof RunBody>;

export const RunAccepted = v.object({
  status: v.literal('accepted'),
  container_id: v.string(),
  message: v.string(),
  allocation_id: v.string(),
  resource_id: v.string(),
  node_id: v.string(),
});

const Triple = v.object({
  cpu: v.number(),
  memory: v.pipe(v.number(), v.description('GB')),
  gpu: v.number(),
});
export const ResourcesSummary = v.object({
  limits: Triple,
  current: Triple,
  available: Triple,
  utilization: v.pipe(Triple, v.description('Percent of limits')),
});

export const StatusContainer = v.object({
  id: v.string(),
  image: v.string(),
  status: v.string(),
  created_at: v.string(),
  resources: Triple,
  node_id: v.pipe(
    v.string(),
    v.description('The node the container runs on: this one, or a peer it was placed on ("remote")'),
  ),
});
export const NodeStatus = v.object({
  containers: v.array(StatusContainer),
  total_containers: v.number(),
  node_info: v.object({ id: v.string(), address: v.string(), last_updated: v.string() }),
});

export const Container = v.object({
  id: v.pipe(v.string(), v.description('Engine id (Docker container id); empty while starting')),
  allocationId: v.string(),
  name: v.string(),
  image: v.string(),
  command: v.optional(v.array(v.string())),
  status: v.string(),
  /** Whether the container holds quota right now. */
  allocation: v.picklist(['reserved', 'committed', 'released']),
  releaseReason: v.optional(v.string()),
  resourceId: v.string(),
  nodeId: v.string(),
  appId: v.optional(v.string()),
  /** Placed by this node on the peer `nodeId` (its state lives there). */
  remote: v.optional(v.boolean()),
  createdAt: v.string(),
  resources: Triple,
});
export const ContainerList = v.object({ items: v.array(Container), total: v.number() });

export const ContainerStats = v.object({
  cpuPercent: v.number(),
  memoryBytes: v.number(),
  memoryLimitBytes: v.number(),
  networkRxBytes: v.number(),
  networkTxBytes: v.number(),
  blockReadBytes: v.number(),
  blockWriteBytes: v.number(),
  at: v.string(),
});

export const LogsQuery = v.strictObject({
  tail: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,5}$/, 'tail is a number of lines (at most 99999)'),
      v.transform(Number),
    ),
    '200',
  ),
  follow: v.optional(v.picklist(['true', 'false', '1', '0']), 'false'),
  since: v.optional(
    v.pipe(
      v.string(),
      v.regex(
        /^(\d{1,12}|\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d))$/,
        'since is unix seconds or an RFC 3339 time',
      ),
    ),
  ),
});

export const LogLines = v.object({
  items: v.array(
    v.object({ stream: v.picklist(['stdout', 'stderr']), timestamp: v.string(), message: v.string() }),
  ),
});

export const ContainerRef = v.object({
  id: v.pipe(v.string(), v.regex(/^[a-zA-Z0-9_.-]{1,128}$/, 'not a container id')),
});
