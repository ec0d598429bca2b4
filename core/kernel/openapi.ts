/**
 * OpenAPI 3.1 from the same valibot schemas that validate requests (hono-openapi).
 * `describe()` adds what every route shares: bearer security unless anonymous, and the
 * project's error responses by reference to one `Error` schema.
 */
import type { Hono } from 'hono';
import { describeRoute, generateSpecs, resolver } from 'hono-openapi';
import * as v from 'valibot';
import type { OpenApiDocument } from './core-hooks.ts';

export const FieldErrorSchema = v.object({
  path: v.pipe(v.string(), v.description('Dotted path of the offending value')),
  message: v.string(),
});

export const ErrorSchema = v.pipe(
  v.object({
    error: v.pipe(v.string(), v.description('Short summary, e.g. "Resource limit exceeded"')),
    details: v.pipe(v.string(), v.description('Human-readable explanation')),
    code: v.pipe(v.string(), v.description('Machine-readable code, e.g. VALIDATION_FAILED')),
    fields: v.optional(v.array(FieldErrorSchema)),
    requestId: v.optional(v.string()),
  }),
  v.title('Error'),
);

const ERROR_REF = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ERROR_REF } },
});

/** The error responses a route can produce besides its own. */
const STANDARD_ERRORS = {
  401: 'Missing, invalid or expired credentials',
  403: 'The caller’s role does not allow this',
  413: 'Request body too large',
  415: 'Request body is not application/json',
  500: 'Unexpected server error',
} as const;

export interface RouteDoc {
  summary: string;
  description?: string;
  tags: string[];
  operationId?: string;
  /** Status → description and optional response schema (JSON). */
  responses: Record<number, { description: string; schema?: v.GenericSchema; contentType?: string }>;
  /** No credentials needed. */
  anonymous?: boolean;
  /** The route takes a JSON body (adds 413/415). */
  body?: boolean;
  /** Other error statuses this route produces, e.g. {404: 'No such resource'}. */
  errors?: Record<number, string>;
}

export function describe(doc: RouteDoc) {
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(doc.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.schema
        ? { content: { [r.contentType ?? 'application/json']: { schema: resolver(r.schema) } } }
        : {}),
    };
  }
  const errors: Record<number, string> = { 500: STANDARD_ERRORS[500], ...doc.errors };
  if (!doc.anonymous) Object.assign(errors, { 401: STANDARD_ERRORS[401], 403: STANDARD_ERRORS[403] });
  if (doc.body) Object.assign(errors, { 413: STANDARD_ERRORS[413], 415: STANDARD_ERRORS[415] });
  for (const [status, text] of Object.entries(errors)) responses[status] ??= errorResponse(text);
  return describeRoute({
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    ...(doc.operationId ? { operationId: doc.operationId } : {}),
    tags: doc.tags,
    security: doc.anonymous ? [] : [{ bearerAuth: [] }],
    // biome-ignore lint/suspicious/noExplicitAny: hono-openapi's response type is stricter than its runtime
    responses: responses as any,
  });
}

export async function buildSpec(app: Hono<never>, info: { version: string }): Promise<OpenApiDocument> {
  const { toJsonSchema } = await import('@valibot/to-json-schema');
  const errorJson = toJsonSchema(ErrorSchema, { target: 'draft-2020-12' });
  const { $schema: _drop, ...errorSchema } = errorJson as Record<string, unknown>;
  const spec = await generateSpecs(app, {
    documentation: {
      openapi: '3.1.0',
      info: {
        title: 'IARNet API',
        version: info.version,
        description:
          'Pool Docker engines, Kubernetes clusters and VMs; run containers and applications on them within quotas. ' +
          'Every error has the body {error, details, code, fields?}.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'A JWT from POST /api/auth/login, or an API token (iat_…).',
          },
        },
        schemas: { Error: errorSchema as never },
      },
      security: [{ bearerAuth: [] }],
    },
    // /openapi.json would otherwise be dropped as a "static file" (its last segment has a dot).
    excludeStaticFile: false,
    defaultValidationErrorResponse: errorResponse(
      'Invalid request: the body, query or path failed validation',
    ),
  });
  return sortKeys(spec) as OpenApiDocument;
}

/** Stable key order so the committed spec only changes when the API does. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, val]) => [k, sortKeys(val)]),
    );
  }
  return value;
}
