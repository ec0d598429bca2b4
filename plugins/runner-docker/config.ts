/**
 * The `runner_docker:` config section. Values may arrive from YAML (numbers) or from env
 * variables (strings), so numeric keys accept both.
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

export const runnerDockerConfigSchema = v.strictObject({
  /** Upper bound for every non-streaming engine call (inspect, create, list, info, ...). */
  request_timeout_ms: v.optional(int('request_timeout_ms', 500, 600_000), 10_000),
  /** Upper bound for one image pull, progress included. */
  pull_timeout_ms: v.optional(int('pull_timeout_ms', 1_000, 6 * 3_600_000), 900_000),
  /** Gap between the two stats readings when the engine gives no previous CPU sample. */
  stats_sample_ms: v.optional(int('stats_sample_ms', 100, 10_000), 500),
  /** Grace period of stop/restart before the engine kills, when the caller names none. */
  stop_timeout_seconds: v.optional(int('stop_timeout_seconds', 0, 3_600), 10),
  /** DeviceRequests driver for GPU workloads; '' lets the engine choose. */
  gpu_driver: v.optional(
    v.pipe(v.string(), v.maxLength(64), v.regex(/^[\w.-]*$/, 'expected a driver name')),
    'nvidia',
  ),
  /** First reconnect delay of the engine event stream; doubles up to events_backoff_max_ms. */
  events_backoff_initial_ms: v.optional(int('events_backoff_initial_ms', 10, 60_000), 500),
  events_backoff_max_ms: v.optional(int('events_backoff_max_ms', 100, 600_000), 30_000),
  /** How often a live event stream pings the engine, so a silently dead connection is noticed. */
  events_ping_interval_ms: v.optional(int('events_ping_interval_ms', 100, 600_000), 15_000),
  /** Socket the standalone node registers as its own resource when DOCKER_HOST is unset. */
  default_socket: v.optional(
    v.pipe(v.string(), v.startsWith('/'), v.maxLength(4096)),
    '/var/run/docker.sock',
  ),
});

export type RunnerDockerConfig = v.InferOutput<typeof runnerDockerConfigSchema>;

/** The defaults, for runners built outside the plugin host (tests, tools). */
export const DEFAULT_RUNNER_DOCKER_CONFIG: RunnerDockerConfig = v.parse(runnerDockerConfigSchema, {});
