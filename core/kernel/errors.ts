/**
 * The one error model of IARNet. Every error a client sees has this body:
 * `{error, details, code, fields?}` — the design document's `{error, details}`
 * plus a machine-readable code and, for validation failures, the offending fields.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface FieldError {
  /** Dotted path of the offending value, e.g. `resource_limits.cpu` or `body.memory`. */
  path: string;
  message: string;
}

export interface ErrorBody {
  error: string;
  details: string;
  code: string;
  fields?: FieldError[];
  requestId?: string;
}

/** An error meant for a client: it carries its HTTP status and a safe message. */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly details: string;
  readonly fields: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    error: string,
    details: string,
    opts: { fields?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(error, { cause: opts.cause });
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.fields = opts.fields;
    this.headers = opts.headers;
  }

  toBody(requestId?: string): ErrorBody {
    return {
      error: this.message,
      details: this.details,
      code: this.code,
      ...(this.fields ? { fields: this.fields } : {}),
      ...(requestId ? { requestId } : {}),
    };
  }
}

export const badRequest = (details: string, fields?: FieldError[]) =>
  new ApiError(400, 'VALIDATION_FAILED', 'Invalid request', details, fields ? { fields } : {});
export const unauthorized = (details = 'Missing or invalid credentials') =>
  new ApiError(401, 'UNAUTHORIZED', 'Unauthorized', details, { headers: { 'WWW-Authenticate': 'Bearer' } });
export const forbidden = (details = 'Your role does not allow this action') =>
  new ApiError(403, 'FORBIDDEN', 'Forbidden', details);
export const notFound = (what: string) =>
  new ApiError(404, 'NOT_FOUND', 'Not found', `${what} was not found`);
export const conflict = (details: string) => new ApiError(409, 'CONFLICT', 'Conflict', details);
export const unavailable = (details: string, code = 'UNAVAILABLE') =>
  new ApiError(503, code, 'Service unavailable', details);

/** A failure inside a plugin's lifecycle step or hook handler; names the plugin and what it was doing. */
export class PluginError extends Error {
  readonly plugin: string;
  readonly hook: string;

  constructor(plugin: string, hook: string, cause: unknown) {
    super(`plugin "${plugin}" failed in ${hook}: ${describeCause(cause)}`, { cause });
    this.name = 'PluginError';
    this.plugin = plugin;
    this.hook = hook;
  }
}

/** Several errors at once (e.g. every plugin whose stop() failed). */
export class AggregatePluginError extends AggregateError {
  constructor(errors: PluginError[], message: string) {
    super(errors, `${message}: ${errors.map((e) => e.message).join('; ')}`);
    this.name = 'AggregatePluginError';
  }
}

/** Configuration that cannot be used; names the key and the problem. */
export class ConfigError extends Error {
  readonly issues: FieldError[];
  constructor(issues: FieldError[], source?: string) {
    const where = source ? ` (${source})` : '';
    super(`invalid configuration${where}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return String(cause);
}
