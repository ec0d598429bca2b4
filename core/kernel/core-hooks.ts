/**
 * The hooks the core hosts. Plugins add their own by extending {@link IarnetHooks} the same way.
 */
import type { Principal } from '../slots/auth.ts';
import type { FirstHook, HookRegistry, ParallelHook, SerialHook, WaterfallHook } from './hooks.ts';

/** The OpenAPI document as plain JSON; plugins may amend it (security schemes, tags). */
export type OpenApiDocument = Record<string, unknown> & { paths?: Record<string, unknown> };

declare module './hooks.ts' {
  interface IarnetHooks {
    /** Resolve the caller of a request. Return undefined to let the next handler try; throw ApiError(401) to reject. */
    'auth:authenticate': FirstHook<[request: Request], Principal>;
    /** Every handler must resolve for /readyz to answer 200; throw with a reason otherwise. */
    'health:ready': ParallelHook<[]>;
    /** The HTTP listener is up. */
    'http:listening': SerialHook<[info: { url: string; port: number }]>;
    /** Amend the generated OpenAPI document. */
    'openapi:document': WaterfallHook<OpenApiDocument>;
  }
}

export function defineCoreHooks(hooks: HookRegistry): void {
  hooks.define('auth:authenticate', 'first');
  hooks.define('health:ready', 'parallel');
  hooks.define('http:listening', 'serial');
  hooks.define('openapi:document', 'waterfall');
}
