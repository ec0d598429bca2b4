/**
 * Authentication is default-deny: every route requires a principal unless a plugin declared
 * it anonymous (login, health, the spec, docs, metrics). Roles are checked per route.
 */
import { createMiddleware } from 'hono/factory';
import { type Role, roleAtLeast } from '../slots/auth.ts';
import { forbidden, unauthorized } from './errors.ts';
import type { HookRegistry } from './hooks.ts';
import type { AppEnv } from './plugin.ts';

export interface AnonymousRule {
  method: string;
  pattern: string;
}

export function isAnonymous(rules: readonly AnonymousRule[], method: string, path: string): boolean {
  const m = method === 'HEAD' ? 'GET' : method;
  return rules.some(
    (r) =>
      (r.method === '*' || r.method === m) &&
      (r.pattern.endsWith('*') ? path.startsWith(r.pattern.slice(0, -1)) : path === r.pattern),
  );
}

export function authGuard(hooks: HookRegistry, rules: readonly AnonymousRule[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.method === 'OPTIONS' || isAnonymous(rules, c.req.method, c.req.path)) return next();
    const principal = await hooks.call('auth:authenticate', c.req.raw);
    if (!principal) throw unauthorized();
    c.set('principal', principal);
    return next();
  });
}

/** Route middleware: the caller's role must be at least `role`. */
export function requireRole(role: Role) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const principal = c.get('principal');
    if (!principal) throw unauthorized();
    if (!roleAtLeast(principal.role, role)) {
      throw forbidden(`This action needs the ${role} role; you are ${principal.role}`);
    }
    return next();
  });
}
