/**
 * One valibot schema validates a request part and documents it in the OpenAPI spec.
 * Failures become the project's 400 body with a field error per issue (full path, not just the first key).
 */
import type { ValidationTargets } from 'hono';
import { validator } from 'hono-openapi';
import type * as v from 'valibot';
import { badRequest, type FieldError } from './errors.ts';

interface StandardIssue {
  message: string;
  path?: readonly (PropertyKey | { key: PropertyKey })[];
}

export function issuesToFieldErrors(issues: readonly StandardIssue[]): FieldError[] {
  return issues.map((i) => ({
    path: (i.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.') || '(root)',
    message: i.message,
  }));
}

const TARGET_NAMES: Record<string, string> = {
  json: 'request body',
  query: 'query string',
  param: 'path parameters',
  header: 'headers',
};

export function validate<T extends keyof ValidationTargets, S extends v.GenericSchema>(target: T, schema: S) {
  return validator(target, schema, (result) => {
    if (!result.success) {
      const fields = issuesToFieldErrors(result.error as readonly StandardIssue[]);
      const first = fields[0];
      throw badRequest(
        `The ${TARGET_NAMES[target] ?? target} is invalid${first ? `: ${first.path}: ${first.message}` : ''}`,
        fields,
      );
    }
  });
}
