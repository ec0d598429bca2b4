import type { ApiError } from '../api/client';

/** Server field errors keyed by their dotted path, plus the summary for the rest. */
export function splitErrors(
  err: ApiError,
  known: readonly string[],
): { fields: Record<string, string>; rest: string } {
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  for (const f of err.fields ?? []) {
    if (known.includes(f.path)) fields[f.path] = f.message;
    else rest.push(`${f.path}: ${f.message}`);
  }
  return { fields, rest: Object.keys(fields).length && !rest.length ? '' : [err.details, ...rest].join(' ') };
}
