/**
 * Assembles the root Hono app in a fixed order, whatever order plugins registered things in:
 * request id → body limit → content type → plugin middleware → auth guard → routes → 404.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { ApiError, PluginError } from './errors.ts';
import { authGuard } from './guard.ts';
import type { PluginHost } from './loader.ts';
import type { Logger } from './logger.ts';
import type { App, AppEnv } from './plugin.ts';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Turn anything thrown by a handler into the project's error body; never leak a stack trace. */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (err instanceof PluginError && err.cause instanceof ApiError) return err.cause;
  if (err instanceof HTTPException && err.status < 500) {
    // Hono's JSON validator throws this for a body that does not parse.
    const malformed = /malformed json/i.test(err.message);
    return new ApiError(
      err.status as 400,
      malformed ? 'MALFORMED_JSON' : 'BAD_REQUEST',
      'Invalid request',
      malformed ? 'The request body is not valid JSON' : err.message || 'The request was rejected',
    );
  }
  return undefined;
}

export function assembleApp(
  host: PluginHost,
  opts: { bodyLimit: number; logger: Logger; coreRoutes: (app: App) => void },
) {
  const app = new Hono<AppEnv>();
  const log = opts.logger;

  app.use(requestId({ headerName: 'X-Request-Id' }));
  app.use(async (c, next) => {
    c.set('logger', log.child({ requestId: c.get('requestId') }));
    await next();
  });
  const tooLarge = () => {
    throw new ApiError(
      413,
      'BODY_TOO_LARGE',
      'Payload too large',
      `Request bodies are limited to ${opts.bodyLimit} bytes`,
    );
  };
  const streamLimit = bodyLimit({ maxSize: opts.bodyLimit, onError: tooLarge });
  app.use(async (c, next) => {
    // Decide from the framing headers when they settle it, as hono's bodyLimit does, but without
    // touching c.req.raw.body first: on Node that builds a full web Request (AbortController,
    // ReadableStream) for every request, GETs included, and JSON is then read through a web
    // stream instead of @hono/node-server's direct read (wrk on one core, POST /run with a RunService
    // that answers at once: ~2-3k → ~5-8k requests/s). Chunked bodies are still counted.
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD') return next();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      return Number.parseInt(length, 10) > opts.bodyLimit ? tooLarge() : next();
    }
    return streamLimit(c, next);
  });
  app.use(async (c, next) => {
    // Every body IARNet accepts is JSON; refuse others before any handler reads them.
    const type = c.req.header('content-type');
    if (BODY_METHODS.has(c.req.method) && (type !== undefined || hasBody(c.req.raw))) {
      if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type ?? '')) {
        throw new ApiError(
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          'Unsupported media type',
          'Send the body as application/json',
        );
      }
    }
    await next();
  });
  for (const m of host.middleware) app.use(m.path, m.handler);
  app.use(authGuard(host.hooks, host.anonymous));
  opts.coreRoutes(app);
  for (const r of host.routeRegistrations) r.register(app);

  app.notFound((c) =>
    c.json(
      new ApiError(404, 'NOT_FOUND', 'Not found', `No route for ${c.req.method} ${c.req.path}`).toBody(
        c.get('requestId'),
      ),
      404,
    ),
  );
  app.onError((err, c) => {
    const requestId = c.get('requestId');
    const apiError = toApiError(err);
    if (apiError) {
      if (apiError.headers) for (const [k, val] of Object.entries(apiError.headers)) c.header(k, val);
      return c.json(apiError.toBody(requestId), apiError.status);
    }
    (c.get('logger') ?? log).error({ err, path: c.req.path, method: c.req.method }, 'unhandled error');
    return c.json(
      {
        error: 'Internal error',
        details: `An unexpected error occurred; the server log has it under request id ${requestId}`,
        code: 'INTERNAL',
        requestId,
      },
      500,
    );
  });
  return app;
}

function hasBody(req: Request): boolean {
  const length = req.headers.get('content-length');
  if (length !== null) return length !== '0';
  // Deno gives every POST a (possibly empty) body stream, so only the framing headers tell.
  return req.headers.has('transfer-encoding');
}
