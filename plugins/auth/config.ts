/**
 * The `auth:` config section. Values may arrive from YAML (numbers) or from IARNET_AUTH__* env
 * variables (strings), so numeric keys accept both.
 */
import * as v from 'valibot';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "3600", 3600, "90s", "15m", "1h", "7d" → seconds. */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isInteger(input) ? input : undefined;
  const m = /^(\d{1,9})\s*([smhd]?)$/.exec(input.trim());
  if (!m) return undefined;
  return Number(m[1]) * (UNITS[m[2] || 's'] ?? 1);
}

const duration = (what: string, min: number, max: number) =>
  v.pipe(
    v.union([v.number(), v.string()], `expected ${what} in seconds or a duration like "1h"`),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const seconds = parseDuration(dataset.value);
      if (seconds === undefined) {
        addIssue({ message: `expected ${what} in whole seconds or a duration like "30m", "1h", "7d"` });
        return NEVER;
      }
      if (seconds < min || seconds > max) {
        addIssue({ message: `${what} must be between ${min} and ${max} seconds` });
        return NEVER;
      }
      return seconds;
    }),
  );

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

const nonEmpty = (what: string) =>
  v.pipe(v.string(), v.minLength(1, `${what} must not be empty`), v.maxLength(256, `${what} is too long`));

/** RFC 8725 §3.5: an HMAC key needs at least as many bits as the hash output (256 for HS256). */
export const MIN_SECRET_BYTES = 32;

export const authConfigSchema = v.strictObject({
  /** HS256 key; when absent one is generated once into <data_dir>/jwt.secret (mode 0600). */
  jwt_secret: v.optional(
    v.pipe(
      v.string(),
      v.check(
        (s) => new TextEncoder().encode(s).byteLength >= MIN_SECRET_BYTES,
        `must be at least ${MIN_SECRET_BYTES} bytes (256 bits); leave it unset to have one generated`,
      ),
    ),
  ),
  /** Lifetime of a login JWT. */
  token_ttl: v.optional(duration('token_ttl', 60, 30 * 86_400), 3600),
  issuer: v.optional(nonEmpty('issuer'), 'iarnet'),
  audience: v.optional(nonEmpty('audience'), 'iarnet-api'),
  /** Login attempts per minute per client address + username; more get 429. */
  login_rate_limit: v.optional(int('login_rate_limit', 1, 10_000), 10),
  /**
   * Take the client address for rate limiting from X-Forwarded-For (its last entry). Only set
   * this behind a reverse proxy that overwrites the header; otherwise clients choose their address.
   */
  trust_proxy: v.optional(
    v.pipe(
      v.union([v.boolean(), v.picklist(['true', 'false', '1', '0'])], 'expected true or false'),
      v.transform((x) => x === true || x === 'true' || x === '1'),
    ),
    false,
  ),
  /**
   * log2 of scrypt's N for new password hashes (r=8, p=2). 16 matches OWASP's minimum
   * (64 MiB per hash); lower values weaken stored hashes and exist for tests and tiny machines.
   */
  scrypt_log_n: v.optional(int('scrypt_log_n', 10, 20), 16),
});

export type AuthConfig = v.InferOutput<typeof authConfigSchema>;
