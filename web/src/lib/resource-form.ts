/**
 * Client-side checks for the resource form, mirroring the server's (core/domain/resources:
 * endpoint.ts and catalog.ts), and the mapping of form values to the API body. The server stays
 * the authority: its field errors are shown at the same fields (see fieldForPath).
 */
import type { paths } from '../api/schema';
import type { MessageKey } from './i18n';

export type ResourceType = 'docker' | 'kubernetes' | 'vm';

export interface ResourceFormValues {
  name: string;
  type: ResourceType;
  url: string;
  token: string;
  description: string;
  sshUser: string;
  sshPort: string;
  sshPassword: string;
  sshKey: string;
  sshHostKey: string;
}

export type FormField = keyof ResourceFormValues;
export type FieldErrors = Partial<Record<FormField, { key: MessageKey; params?: Record<string, string> }>>;

export const emptyForm = (): ResourceFormValues => ({
  name: '',
  type: 'docker',
  url: '',
  token: '',
  description: '',
  sshUser: '',
  sshPort: '',
  sshPassword: '',
  sshKey: '',
  sshHostKey: '',
});

export const SCHEMES: Record<ResourceType, readonly string[]> = {
  docker: ['unix', 'tcp', 'https'],
  vm: ['ssh'],
  kubernetes: ['https', 'http'],
};

const FORBIDDEN_CHARS = /[\p{Cc}\p{Z}\\]/u;
const SSH_USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const PEM = /-----BEGIN [A-Z0-9 ]{1,64}-----/;
const HOST_KEY = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1';
}

/** The URL's problem, if any. `editingBuiltin` skips it (the URL of a built-in cannot change). */
export function checkUrl(type: ResourceType, raw: string): FieldErrors['url'] {
  if (raw.length === 0) return { key: 'v.urlRequired' };
  if (raw.length > 2048) return { key: 'v.tooLong' };
  if (FORBIDDEN_CHARS.test(raw)) return { key: 'v.urlInvalid' };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw)?.[1]?.toLowerCase();
  const allowed = SCHEMES[type];
  if (!scheme || !allowed.includes(scheme)) {
    return { key: 'v.urlScheme', params: { type, schemes: allowed.map((s) => `${s}://`).join(' / ') } };
  }
  if (raw.includes('?') || raw.includes('#')) return { key: 'v.urlInvalid' };
  if (scheme === 'unix')
    return /^unix:\/\/(\/[A-Za-z0-9._+@=-]+)+$/i.test(raw) ? undefined : { key: 'v.urlInvalid' };
  if (!raw.slice(scheme.length + 1).startsWith('//')) return { key: 'v.urlInvalid' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { key: 'v.urlInvalid' };
  }
  if (!url.hostname || url.password) return { key: 'v.urlInvalid' };
  if (url.username && scheme !== 'ssh') return { key: 'v.urlInvalid' };
  if (url.pathname !== '' && url.pathname !== '/') return { key: 'v.urlInvalid' };
  const needsPort = scheme === 'tcp' || (scheme === 'https' && type === 'docker') || scheme === 'http';
  if (needsPort && url.port === '' && !/:443\/?$/.test(raw)) return { key: 'v.urlInvalid' };
  if (scheme === 'http' && !isLoopback(url.hostname)) return { key: 'v.k8sHttp' };
  if (url.username && !SSH_USER.test(decodeURIComponent(url.username))) return { key: 'v.sshUser' };
  return undefined;
}

function urlUser(raw: string): string | undefined {
  try {
    const u = new URL(raw);
    return u.username ? decodeURIComponent(u.username) : undefined;
  } catch {
    return undefined;
  }
}

export function validateResource(
  f: ResourceFormValues,
  opts: { editing?: boolean; builtin?: boolean } = {},
): FieldErrors {
  const e: FieldErrors = {};
  const name = f.name.trim();
  if (!name) e.name = { key: 'v.nameRequired' };
  else if (name.length > 63) e.name = { key: 'v.nameTooLong' };
  if (!opts.builtin) {
    const u = checkUrl(f.type, f.url.trim());
    if (u) e.url = u;
  }
  if (f.token.length > 16384) e.token = { key: 'v.tooLong' };
  if (f.description.length > 1024) e.description = { key: 'v.tooLong' };
  if (f.type === 'vm' && !opts.builtin) {
    const user = f.sshUser.trim();
    if (user && !SSH_USER.test(user)) e.sshUser = { key: 'v.sshUser' };
    else if (!user && !urlUser(f.url.trim()) && !e.url) e.sshUser = { key: 'v.sshUser' };
    if (f.sshPort.trim()) {
      const p = Number(f.sshPort);
      if (!Number.isInteger(p) || p < 1 || p > 65535) e.sshPort = { key: 'v.sshPort' };
    }
    if (f.sshKey.trim() && !PEM.test(f.sshKey)) e.sshKey = { key: 'v.pem' };
    if (f.sshHostKey.trim() && !HOST_KEY.test(f.sshHostKey.trim())) e.sshHostKey = { key: 'v.hostKey' };
  }
  return e;
}

type CreateBody = paths['/api/resources']['post']['requestBody']['content']['application/json'];

/** The JSON body for POST /api/resources (or /test, or PUT when editing). */
export function toBody(f: ResourceFormValues, opts: { builtin?: boolean } = {}): CreateBody {
  const body: CreateBody = { name: f.name.trim(), type: f.type, url: f.url.trim() };
  if (f.token) body.token = f.token;
  if (f.description.trim()) body.description = f.description.trim();
  if (f.type === 'vm' && !opts.builtin) {
    const username = f.sshUser.trim() || urlUser(f.url.trim());
    if (username) {
      body.ssh = { username };
      if (f.sshPort.trim()) body.ssh.port = Number(f.sshPort);
      if (f.sshPassword) body.ssh.password = f.sshPassword;
      if (f.sshKey.trim()) body.ssh.privateKey = f.sshKey;
      if (f.sshHostKey.trim()) body.ssh.hostKey = f.sshHostKey.trim();
    }
  }
  return body;
}

/** Which form field a server error path ("url", "ssh.username", "ssh") belongs to. */
export function fieldForPath(path: string): FormField | undefined {
  const map: Record<string, FormField> = {
    name: 'name',
    type: 'type',
    url: 'url',
    token: 'token',
    description: 'description',
    'ssh.username': 'sshUser',
    'ssh.port': 'sshPort',
    'ssh.password': 'sshPassword',
    'ssh.privateKey': 'sshKey',
    'ssh.hostKey': 'sshHostKey',
    ssh: 'sshPassword',
  };
  return map[path] ?? map[path.split('.')[0] ?? ''];
}

type UpdateBody = paths['/api/resources/{id}']['put']['requestBody']['content']['application/json'];

/**
 * The PUT body when editing: only what changed (the server keeps omitted fields, including stored
 * secrets, and null clears). A built-in resource only takes its name and description.
 */
export function toUpdateBody(
  f: ResourceFormValues,
  original: ResourceFormValues,
  opts: { builtin?: boolean } = {},
): UpdateBody {
  const body: UpdateBody = {};
  if (f.name.trim() !== original.name) body.name = f.name.trim();
  if (f.description.trim() !== original.description.trim()) body.description = f.description.trim() || null;
  if (opts.builtin) return body;
  if (f.url.trim() !== original.url) body.url = f.url.trim();
  if (f.token) body.token = f.token;
  if (f.type === 'vm') {
    const changed =
      f.sshUser.trim() !== original.sshUser ||
      f.sshPort.trim() !== original.sshPort ||
      f.sshHostKey.trim() !== original.sshHostKey ||
      !!f.sshPassword ||
      !!f.sshKey.trim();
    const full = toBody(f).ssh;
    if (changed && full) body.ssh = full;
  }
  return body;
}
