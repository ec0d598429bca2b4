/**
 * What Kubernetes accepts as object names, label keys and values, and env names — checked by
 * IARNet first so a bad value becomes a field error (400) instead of an API server refusal
 * after quota was reserved. The grammars are Kubernetes' own (apimachinery validation).
 */
import { badRequest, type FieldError } from '../../core/kernel/errors.ts';

/** DNS-1123 label: pod names are used as hostnames, so the label form (≤ 63) is required. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** DNS-1123 subdomain: the optional prefix of a label key. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The name part of a label key, and a label value (which may also be empty). */
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
/** Env var names Kubernetes accepts (C identifiers plus '-' and '.'). */
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export function podNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 63) return 'must be 1–63 characters';
  if (!DNS_LABEL.test(name))
    return 'must be lower-case letters, digits and "-", starting and ending alphanumeric';
  return undefined;
}

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return 'the prefix must be a DNS subdomain';
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return 'must be 1–63 letters, digits, "-", "_" or ".", starting and ending alphanumeric';
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !QUALIFIED_NAME.test(value)) {
    return 'must be at most 63 letters, digits, "-", "_" or ".", starting and ending alphanumeric';
  }
  return undefined;
}

export function envNameProblem(name: string): string | undefined {
  if (!ENV_NAME.test(name) || name === '.' || name === '..' || name.startsWith('..')) {
    return 'must be letters, digits, "_", "-" or ".", not starting with a digit';
  }
  return undefined;
}

/** `k=v,k2=v2` for a label filter; each key and value checked first (never injected into the selector). */
export function labelSelector(labels: Record<string, string>): string {
  const fields = labelFieldErrors(labels, 'labels');
  if (fields.length)
    throw badRequest(`Invalid label filter: ${fields[0]!.path}: ${fields[0]!.message}`, fields);
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function labelFieldErrors(labels: Record<string, string>, path: string): FieldError[] {
  const out: FieldError[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const keyProblem = labelKeyProblem(k);
    if (keyProblem) out.push({ path: `${path}.${k}`, message: `label key ${keyProblem}` });
    const valueProblem = labelValueProblem(v);
    if (valueProblem) out.push({ path: `${path}.${k}`, message: `label value ${valueProblem}` });
  }
  return out;
}
