/**
 * The `runner_kubernetes:` config section. Values may arrive from YAML (numbers) or from env
 * variables (strings, e.g. IARNET_RUNNER_KUBERNETES__NAMESPACE), so numeric keys accept both.
 */
import * as v from 'valibot';

const int = (what: string, min: number, max: number) =>
  v.pipe(
    v.union([
      v.number(),
      v.pipe(v.string(), v.regex(/^\d{1,9}$/, `expected an integer for ${what}`), v.transform(Number)),
    ]),
    v.integer(`expected an integer for ${what}`),
    v.minValue(min, `${what} must be at least ${min}`),
    v.maxValue(max, `${what} must be at most ${max}`),
  );

/** A DNS-1123 label, what Kubernetes accepts as a namespace name. */
export const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const runnerKubernetesConfigSchema = v.strictObject({
  /** Namespace for resources that name none (a resource's options.namespace wins). */
  namespace: v.optional(
    v.pipe(v.string(), v.regex(NAMESPACE_RE, 'expected a namespace name (DNS-1123 label)')),
    'default',
  ),
  /** Upper bound for every non-streaming API call (read, create, delete, list, access reviews). */
  request_timeout_ms: v.optional(int('request_timeout_ms', 500, 600_000), 10_000),
  /** How long start() waits for a pod to be Running (scheduling + image pull) before giving up. */
  start_timeout_ms: v.optional(int('start_timeout_ms', 1_000, 3_600_000), 300_000),
  /** Grace period of stop/restart when the caller names none. */
  stop_timeout_seconds: v.optional(int('stop_timeout_seconds', 0, 3_600), 10),
  /** First reconnect delay of the pod watch; doubles up to events_backoff_max_ms. */
  events_backoff_initial_ms: v.optional(int('events_backoff_initial_ms', 10, 60_000), 500),
  events_backoff_max_ms: v.optional(int('events_backoff_max_ms', 100, 600_000), 30_000),
  /**
   * The API server ends watches after a while; a watch that has seen nothing for this long is
   * restarted anyway, so a silently dead connection is noticed.
   */
  watch_idle_restart_ms: v.optional(int('watch_idle_restart_ms', 1_000, 3_600_000), 300_000),
  /** Where the in-cluster ServiceAccount files are (k8s mode). */
  service_account_dir: v.optional(
    v.pipe(v.string(), v.startsWith('/'), v.maxLength(4096)),
    '/var/run/secrets/kubernetes.io/serviceaccount',
  ),
});

export type RunnerKubernetesConfig = v.InferOutput<typeof runnerKubernetesConfigSchema>;

/** The defaults, for runners built outside the plugin host (tests, tools). */
export const DEFAULT_RUNNER_KUBERNETES_CONFIG: RunnerKubernetesConfig = v.parse(
  runnerKubernetesConfigSchema,
  {},
);
