/**
 * The `git:` config section. Values may arrive from YAML or from IARNET_GIT__* env variables
 * (strings), so numbers accept both and lists accept a comma-separated string.
 *
 *   git:
 *     workspace: git            # clones live here; relative to data_dir
 *     allow_schemes: [https]    # add http, git or file only where that is wanted (tests, labs)
 *     timeout_seconds: 120      # one clone, wall clock; the process group is killed after it
 *     max_repo_bytes: 512Mi     # the checkout (with .git) may not grow past this
 *     max_concurrent: 4         # clones at once; more wait
 *     outbound: { allow: [], deny: [] }   # SSRF policy for Git hosts (metadata/link-local always refused)
 */
import ipaddr from 'ipaddr.js';
import * as v from 'valibot';
import { parseQuantity } from '../../core/kernel/quantity.ts';

export const GIT_SCHEMES = ['https', 'http', 'git', 'file'] as const;
export type GitScheme = (typeof GIT_SCHEMES)[number];

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

const list = (what: string) =>
  v.pipe(
    v.union([v.array(v.string()), v.string()], `expected a list for ${what}`),
    v.transform((x) =>
      (typeof x === 'string' ? x.split(',') : x).map((s) => s.trim()).filter((s) => s.length > 0),
    ),
  );

function isCidr(text: string): boolean {
  try {
    if (text.includes('/')) ipaddr.parseCIDR(text);
    else ipaddr.parse(text);
    return true;
  } catch {
    return false;
  }
}

const cidrList = (what: string) =>
  v.pipe(
    list(what),
    v.maxLength(1000, `${what} may list at most 1000 ranges`),
    v.check((l) => l.every(isCidr), `${what}: every entry must be a CIDR (e.g. 10.0.0.0/8)`),
  );

/** Bytes: an integer or a quantity such as "512Mi". */
const bytes = (what: string) =>
  v.pipe(
    v.union([v.number(), v.string()]),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      let n: number;
      try {
        n = parseQuantity(dataset.value);
      } catch {
        n = Number.NaN;
      }
      if (!Number.isFinite(n) || n < 1024 * 1024 || n > 2 ** 45) {
        addIssue({ message: `${what} must be a size between 1Mi and 32Ti, e.g. "512Mi"` });
        return NEVER;
      }
      return Math.floor(n);
    }),
  );

export const gitConfigSchema = v.strictObject({
  /** Directory for clones, relative to data_dir or absolute. */
  workspace: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(4096)), 'git'),
  /**
   * Schemes users may give. https only by default: http sends tokens in clear, git:// is
   * unauthenticated, file:// reads this machine's disk. ssh and ext are never offered.
   */
  allow_schemes: v.optional(
    v.pipe(
      list('allow_schemes'),
      v.check(
        (l) => l.every((s) => (GIT_SCHEMES as readonly string[]).includes(s)),
        `allow_schemes may only name ${GIT_SCHEMES.join(', ')}`,
      ),
      v.transform((l) => [...new Set(l)] as GitScheme[]),
    ),
    ['https'],
  ),
  timeout_seconds: v.optional(int('timeout_seconds', 1, 3600), 120),
  max_repo_bytes: v.optional(bytes('max_repo_bytes'), 512 * 1024 * 1024),
  max_concurrent: v.optional(int('max_concurrent', 1, 64), 4),
  outbound: v.optional(
    v.strictObject({
      allow: v.optional(cidrList('outbound.allow'), []),
      deny: v.optional(cidrList('outbound.deny'), []),
    }),
    {},
  ),
});

export type GitConfig = v.InferOutput<typeof gitConfigSchema>;
