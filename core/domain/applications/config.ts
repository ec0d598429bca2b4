/**
 * The `applications:` config section.
 *
 *   applications:
 *     encryption: { key: "" }       # same value as resources.encryption.key (or both empty)
 *     base_images:                  # FROM of the Dockerfile generated for a repository without one
 *       node: node:20-alpine
 *       python: python:3.12-slim
 *       go: golang:1.22-alpine
 *       static: nginx:alpine        # files are copied to /usr/share/nginx/html
 *     build:
 *       timeout_seconds: 1800       # one image build, upload included
 *       max_context_bytes: 512Mi    # the checkout sent to the engine (without .git)
 *       memory: 2Gi                 # limits of the build's own containers (RUN steps); builds are
 *       cpu: 2                      # not booked in the quota ledger, these bound what they take
 *     health:
 *       failure_threshold: 3        # consecutive failed checks before an instance is unhealthy
 *     status:
 *       cache_ms: 5000              # how long instance stats and recent logs are reused
 *       log_lines: 20               # recent log lines in each ApplicationStatus
 *
 * Values may come from YAML or from environment variables (strings), so numbers accept both.
 */
import * as v from 'valibot';
import { parseQuantity } from '../../kernel/quantity.ts';

const int = (what: string, min: number, max: number) =>
  v.pipe(
    v.union([
      v.number(),
      v.pipe(v.string(), v.regex(/^\d{1,12}$/, `expected an integer for ${what}`), v.transform(Number)),
    ]),
    v.integer(`expected an integer for ${what}`),
    v.minValue(min, `${what} must be at least ${min}`),
    v.maxValue(max, `${what} must be at most ${max}`),
  );

const bytes = (what: string) =>
  v.pipe(
    v.union([v.number(), v.string()]),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        const n = parseQuantity(dataset.value as string | number);
        if (n > 0) return n;
      } catch {
        // reported below
      }
      addIssue({ message: `${what}: expected a positive byte quantity such as 512Mi` });
      return NEVER;
    }),
  );

/** An image reference for a FROM line: nothing that could add a line or an option. */
const baseImage = (runtime: string, fallback: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.regex(
        /^[a-z0-9]+([._-]+[a-z0-9]+)*(:[0-9]{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/,
        `base_images.${runtime} must be an image reference such as ${fallback}`,
      ),
    ),
    fallback,
  );

export const applicationsConfigSchema = v.strictObject({
  encryption: v.optional(
    v.strictObject({
      key: v.optional(
        v.pipe(
          v.string(),
          v.check(
            (s) => s === '' || Buffer.from(s.trim(), 'base64').length === 32,
            'must be 32 bytes, base64-encoded (the same value as resources.encryption.key)',
          ),
        ),
      ),
    }),
    {},
  ),
  base_images: v.optional(
    v.strictObject({
      node: baseImage('node', 'node:20-alpine'),
      python: baseImage('python', 'python:3.12-slim'),
      go: baseImage('go', 'golang:1.22-alpine'),
      static: baseImage('static', 'nginx:alpine'),
    }),
    {},
  ),
  build: v.optional(
    v.strictObject({
      timeout_seconds: v.optional(int('build.timeout_seconds', 10, 6 * 3600), 1800),
      max_context_bytes: v.optional(bytes('build.max_context_bytes'), 512 * 1024 * 1024),
      memory: v.optional(bytes('build.memory'), 2 * 1024 * 1024 * 1024),
      cpu: v.optional(
        v.pipe(
          v.union([
            v.number(),
            v.pipe(v.string(), v.decimal('build.cpu: expected cores'), v.transform(Number)),
          ]),
          v.minValue(0.1, 'build.cpu must be at least 0.1'),
          v.maxValue(1024, 'build.cpu must be at most 1024'),
        ),
        2,
      ),
    }),
    {},
  ),
  health: v.optional(
    v.strictObject({
      failure_threshold: v.optional(int('health.failure_threshold', 1, 100), 3),
    }),
    {},
  ),
  status: v.optional(
    v.strictObject({
      cache_ms: v.optional(int('status.cache_ms', 0, 600_000), 5000),
      log_lines: v.optional(int('status.log_lines', 0, 500), 20),
    }),
    {},
  ),
});

export type ApplicationsConfig = v.InferOutput<typeof applicationsConfigSchema>;
export type BaseImages = ApplicationsConfig['base_images'];
