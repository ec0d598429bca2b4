/**
 * The typed API client (openapi-fetch over the generated schema.d.ts) and the session: the token
 * lives in memory and in sessionStorage (so a reload keeps you signed in, a new tab does not).
 * Any 401 clears the session, which sends the router back to the login page.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import { createSignal } from 'solid-js';
import type { components, paths } from './schema';

export type ApiError = components['schemas']['Error'];
export type Role = 'viewer' | 'operator' | 'admin';
export interface Session {
  token: string;
  expiresAt: string;
  user: { id: string; username: string; role: Role };
}

const STORAGE_KEY = 'iarnet.session';

function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    if (!s.token || Date.parse(s.expiresAt) <= Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

const [session, setSessionSignal] = createSignal<Session | null>(loadSession());

export { session };

export function setSession(s: Session | null): void {
  try {
    if (s) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(s));
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage may be unavailable (private mode); memory still holds the session
  }
  setSessionSignal(s);
}

export function authHeader(): Record<string, string> {
  const s = session();
  return s ? { Authorization: `Bearer ${s.token}` } : {};
}

export const authMiddleware: Middleware = {
  onRequest({ request }) {
    const s = session();
    if (s && !request.headers.has('Authorization')) request.headers.set('Authorization', `Bearer ${s.token}`);
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !new URL(request.url).pathname.endsWith('/api/auth/login')) {
      setSession(null);
    }
    return response;
  },
};

function baseUrl(): string {
  return typeof location !== 'undefined' ? location.origin : 'http://localhost';
}

// Look fetch up per call (not once at import) so test interceptors and polyfills apply.
export const api = createClient<paths>({ baseUrl: baseUrl(), fetch: (req) => globalThis.fetch(req) });
api.use(authMiddleware);

export function roleAtLeast(role: Role | undefined, need: Role): boolean {
  const order: Role[] = ['viewer', 'operator', 'admin'];
  return role !== undefined && order.indexOf(role) >= order.indexOf(need);
}

/** The error body of a failed call, or a generic one for network failures. */
export function asApiError(error: unknown): ApiError {
  if (error && typeof error === 'object' && 'code' in error && 'error' in error) return error as ApiError;
  // createResource wraps a thrown non-Error (our ApiError bodies) in Error('Unknown error', {cause}).
  if (error instanceof Error && error.cause !== undefined && error.cause !== error)
    return asApiError(error.cause);
  return { error: 'Request failed', details: String(error ?? ''), code: 'NETWORK' };
}
