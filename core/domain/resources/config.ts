/**
 * The `resources:` config section. Values may arrive from YAML or from IARNET_RESOURCES__* env
 * variables (strings), so numbers accept both and CIDR lists accept a comma-separated string.
 *
 *   resources:
 *     refresh_interval: 30        # seconds between capacity/status refreshes; 0 turns the timer off
 *     test_timeout: 5             # seconds one connection test or refresh may take
 *     outbound:                   # which addresses resource URLs may point at (SSRF policy)
 *       allow: []                 # CIDRs; when non-empty only these are reachable
 *       deny: []                  # CIDRs refused besides the always-refused metadata/link-local ranges
 *     encryption:
 *       key: ""                   # base64 of 32 bytes; generated into <data_dir>/secrets.key when empty
 */
import ipaddr from 'ipaddr.js';
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
    v.union([v.array(v.string()), v.string()], `expected a list of CIDRs for ${what}`),
    v.transform((x) =>
      (typeof x === 'string' ? x.split(',') : x).map((s) => s.trim()).filter((s) => s.length > 0),
    ),
    v.maxLength(1000, `${what} may list at most 1000 ranges`),
    v.check(
      (list) => list.every(isCidr),
      (issue) =>
        `${what}: ${(issue.input as string[]).filter((c) => !isCidr(c)).join(', ')} is not a CIDR (e.g. 10.0.0.0/8)`,
    ),
  );

export const resourcesConfigSchema = v.strictObject({
  /** Seconds between refreshes of every resource's capacity and status; 0 disables the timer. */
  refresh_interval: v.optional(int('refresh_interval', 0, 86_400), 30),
  /** Seconds a connection test (POST /api/resources/test, create, update, refresh) may take. */
  test_timeout: v.optional(int('test_timeout', 1, 120), 5),
  outbound: v.optional(
    v.strictObject({
      allow: v.optional(cidrList('outbound.allow'), []),
      deny: v.optional(cidrList('outbound.deny'), []),
    }),
    {},
  ),
  encryption: v.optional(
    v.strictObject({
      /**
       * AES-256-GCM key for stored credentials, base64 of 32 bytes. When empty, one is generated
       * once into <data_dir>/secrets.key (mode 0600). Losing it makes stored credentials unusable.
       */
      key: v.optional(
        v.pipe(
          v.string(),
          v.check(
            (s) => s === '' || Buffer.from(s.trim(), 'base64').length === 32,
            'must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)',
          ),
        ),
      ),
    }),
    {},
  ),
});

export type ResourcesConfig = v.InferOutput<typeof resourcesConfigSchema>;

export const SECRET_KEY_FILE = 'secrets.key';
