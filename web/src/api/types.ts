/** Shorthands for the generated schema's request and response bodies (no hand-written API types). */
import type { paths } from './schema';

type Method = 'get' | 'post' | 'put';

/** The JSON body of a 200 or 201 answer. */
export type JsonOf<P extends keyof paths, M extends Method = 'get'> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends { 200: { content: { 'application/json': infer B } } }
    ? B
    : R extends { 201: { content: { 'application/json': infer B } } }
      ? B
      : never
  : never;

/** The JSON request body. */
export type BodyOf<P extends keyof paths, M extends Method> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;
