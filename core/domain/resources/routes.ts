/**
 * HTTP routes of the resources module (the design document's 算力资源接入管理, section 4.2.1):
 *
 *   GET    /api/resources                 viewer   list, with used/available from the quota ledger
 *   POST   /api/resources[?verify=true]   admin    create; tests the connection (verify: 422 on failure, nothing saved)
 *   POST   /api/resources/test            admin    test a connection without saving
 *   GET    /api/resources/{id}            viewer
 *   PUT    /api/resources/{id}[?verify=]  admin    partial update (omitted: kept; null: cleared)
 *   DELETE /api/resources/{id}[?force=]   admin    409 while workloads run, unless force=true
 *   POST   /api/resources/{id}/refresh    admin    read capacity and status from the engine now
 *
 * Credentials are write-only: no response, log line or error carries them.
 */
import type { Context } from 'hono';
import * as v from 'valibot';
import { notFound } from '../../kernel/errors.ts';
import { requireRole } from '../../kernel/guard.ts';
import { describe } from '../../kernel/openapi.ts';
import type { App, AppEnv } from '../../kernel/plugin.ts';
import { validate } from '../../kernel/validation.ts';
import type { Usage } from '../ledger/types.ts';
import { GiB, type ResourceService } from './catalog.ts';
import type { ProbeOutcome } from './connection-test.ts';
import {
  type ConnectionTestOut,
  ConnectionTestSchema,
  CreateResourceBody,
  ForceQuery,
  ResourceIdParam,
  type ResourceOut,
  ResourceSchema,
  TestConnectionBody,
  UpdateResourceBody,
  VerifyQuery,
} from './model.ts';
import { effectiveCapacity, type ResourceRecord } from './types.ts';

const TAGS = ['resources'];
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const gb = (bytes: number) => round(bytes / GiB);

function amount(total: number, used: number) {
  return { total: round(total), used: round(used), available: round(Math.max(0, total - used)) };
}

/** A record as the API shows it: the design document's Resource, GB for memory and storage. */
export function toResourceOut(r: ResourceRecord, usage: Usage | undefined): ResourceOut {
  const effective = effectiveCapacity(r) ?? { cpu: 0, memory: 0, gpu: 0 };
  const used = { cpu: (usage?.cpuMilli ?? 0) / 1000, memory: usage?.memory ?? 0, gpu: usage?.gpu ?? 0 };
  const c = r.credentials;
  const out: ResourceOut = {
    id: r.id,
    name: r.name,
    type: r.type,
    url: r.url,
    status: r.status,
    ...(r.statusReason ? { statusReason: r.statusReason } : {}),
    cpu: amount(effective.cpu, used.cpu),
    memory: amount(gb(effective.memory), gb(used.memory)),
    // Storage use is not booked by the ledger yet.
    storage: amount(r.capacity?.storage !== undefined ? gb(r.capacity.storage) : 0, 0),
    ...(effective.gpu > 0 || used.gpu > 0 ? { gpu: amount(effective.gpu, used.gpu) } : {}),
    ...(r.capacity
      ? {
          capacity: {
            cpu: r.capacity.cpu,
            memory: gb(r.capacity.memory),
            gpu: r.capacity.gpu,
            ...(r.capacity.storage !== undefined ? { storage: gb(r.capacity.storage) } : {}),
            ...(r.capacity.description ? { description: r.capacity.description } : {}),
          },
        }
      : {}),
    ...(r.measured
      ? {
          measured: {
            cpu: round(r.measured.cpu),
            memory: gb(r.measured.memory),
            at: r.measured.at,
            scope: r.measured.scope,
            count: r.measured.count,
          },
        }
      : {}),
    ...(r.limits
      ? {
          limits: {
            ...(r.limits.cpu !== undefined ? { cpu: r.limits.cpu } : {}),
            ...(r.limits.memory !== undefined ? { memory: gb(r.limits.memory) } : {}),
            ...(r.limits.gpu !== undefined ? { gpu: r.limits.gpu } : {}),
          },
        }
      : {}),
    ...(r.description ? { description: r.description } : {}),
    tags: r.tags,
    ...(r.location ? { location: r.location } : {}),
    ...(r.namespace ? { namespace: r.namespace } : {}),
    hasToken: c.token,
    credentials: {
      hasCa: c.tlsCa,
      hasCert: c.tlsCert,
      hasKey: c.tlsKey,
      tlsSkipVerify: c.tlsSkipVerify,
      ...(c.sshUser ? { sshUser: c.sshUser } : {}),
      ...(c.sshPort !== undefined ? { sshPort: c.sshPort } : {}),
      hasSshKey: c.sshKey,
      hasSshPassword: c.sshPassword,
      ...(c.sshHostKey ? { sshHostKey: c.sshHostKey } : {}),
    },
    builtin: r.builtin,
    lastUpdated: r.lastUpdated,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
  return out;
}

export function toConnectionTestOut(outcome: ProbeOutcome): ConnectionTestOut {
  if (!outcome.ok) return { ok: false, error: outcome.reason };
  const c = outcome.capacity;
  return {
    ok: true,
    capacity: {
      cpu: c.cpu,
      memory: gb(c.memory),
      gpu: c.gpu,
      ...(c.storage !== undefined ? { storage: gb(c.storage) } : {}),
    },
    ...(c.description ? { description: c.description } : {}),
  };
}

/** Who changed which resource, for the operator's log. Never credentials. */
function audit(c: Context<AppEnv>, what: string, fields: Record<string, unknown>): void {
  const p = c.get('principal');
  c.get('logger').info({ audit: true, actor: { id: p.id, name: p.name, kind: p.kind }, ...fields }, what);
}

export function resourceRoutes(app: App, service: ResourceService): void {
  const one = async (id: string) => {
    const record = await service.get(id);
    return record ? toResourceOut(record, (await service.usage()).get(id)) : undefined;
  };

  app.get(
    '/api/resources',
    describe({
      summary: 'List compute resources (Docker engines, Kubernetes clusters, VMs)',
      tags: TAGS,
      operationId: 'listResources',
      responses: { 200: { description: 'Resources, oldest first', schema: v.array(ResourceSchema) } },
    }),
    requireRole('viewer'),
    async (c) => {
      const [records, usage] = await Promise.all([service.list(), service.usage()]);
      return c.json(
        records.map((r) => toResourceOut(r, usage.get(r.id))),
        200,
      );
    },
  );

  app.post(
    '/api/resources',
    describe({
      summary: 'Add a resource; its connection is tested and its capacity read from the engine',
      description:
        'A failing connection test still saves the resource, with status unreachable or error and the reason ' +
        'in statusReason; with ?verify=true it answers 422 and saves nothing. Credentials are write-only.',
      tags: TAGS,
      operationId: 'createResource',
      body: true,
      responses: { 201: { description: 'Created', schema: ResourceSchema } },
      errors: {
        409: 'A resource with this name exists',
        422: 'No runner for this type is installed, or (verify=true) the connection test failed',
      },
    }),
    requireRole('admin'),
    validate('query', VerifyQuery),
    validate('json', CreateResourceBody),
    async (c) => {
      const body = c.req.valid('json');
      const verify = c.req.valid('query').verify === 'true';
      const record = await service.create(body, { verify });
      audit(c, 'resource created', {
        resourceId: record.id,
        name: record.name,
        type: record.type,
        url: record.url,
        ...(record.namespace ? { namespace: record.namespace } : {}),
        status: record.status,
      });
      return c.json(toResourceOut(record, undefined), 201);
    },
  );

  app.post(
    '/api/resources/test',
    describe({
      summary: 'Test a connection without saving: reads the capacity the engine reports',
      description:
        'Answers 200 either way: {ok: true, capacity, description} or {ok: false, error} with a generic reason. ' +
        'Bounded in time (resources.test_timeout).',
      tags: TAGS,
      operationId: 'testResourceConnection',
      body: true,
      responses: { 200: { description: 'The outcome of the test', schema: ConnectionTestSchema } },
      errors: { 422: 'No runner for this type is installed' },
    }),
    requireRole('admin'),
    validate('json', TestConnectionBody),
    async (c) => {
      const body = c.req.valid('json');
      const outcome = await service.test(body);
      audit(c, 'resource connection tested', { type: body.type, url: body.url, ok: outcome.ok });
      return c.json(toConnectionTestOut(outcome), 200);
    },
  );

  app.get(
    '/api/resources/:id',
    describe({
      summary: 'Get a resource',
      tags: TAGS,
      operationId: 'getResource',
      responses: { 200: { description: 'The resource', schema: ResourceSchema } },
      errors: { 404: 'No such resource' },
    }),
    requireRole('viewer'),
    validate('param', ResourceIdParam),
    async (c) => {
      const { id } = c.req.valid('param');
      const out = await one(id);
      if (!out) throw notFoundResource(id);
      return c.json(out, 200);
    },
  );

  app.put(
    '/api/resources/:id',
    describe({
      summary: 'Change a resource (partial: omitted fields are kept, null clears)',
      description:
        'Credentials omitted are kept; token: null (or tls/ssh credential: null) removes one. When the URL ' +
        'changes, every stored secret must be sent again or removed: stored credentials never go to another ' +
        'endpoint. A change of URL, type, namespace or credentials re-tests the connection (?verify=true: 422 ' +
        'and nothing changed on failure); namespace: null goes back to the runner’s default namespace. A ' +
        'built-in resource only takes name, description, tags, location and limits.',
      tags: TAGS,
      operationId: 'updateResource',
      body: true,
      responses: { 200: { description: 'Updated', schema: ResourceSchema } },
      errors: {
        404: 'No such resource',
        409: 'A resource with this name exists',
        422: 'No runner for this type is installed, or (verify=true) the connection test failed',
      },
    }),
    requireRole('admin'),
    validate('param', ResourceIdParam),
    validate('query', VerifyQuery),
    validate('json', UpdateResourceBody),
    async (c) => {
      const { id } = c.req.valid('param');
      const patch = c.req.valid('json');
      const record = await service.update(id, patch, { verify: c.req.valid('query').verify === 'true' });
      audit(c, 'resource updated', { resourceId: id, changed: Object.keys(patch), status: record.status });
      return c.json((await one(id)) ?? toResourceOut(record, undefined), 200);
    },
  );

  app.delete(
    '/api/resources/:id',
    describe({
      summary: 'Remove a resource',
      description:
        'Refused with 409 while IARNet workloads run on it, unless force=true (they are stopped first). ' +
        'A deleted built-in resource is not registered again at the next start.',
      tags: TAGS,
      operationId: 'deleteResource',
      responses: { 204: { description: 'Deleted' } },
      errors: { 404: 'No such resource', 409: 'Workloads run on it (use force=true)' },
    }),
    requireRole('admin'),
    validate('param', ResourceIdParam),
    validate('query', ForceQuery),
    async (c) => {
      const { id } = c.req.valid('param');
      const force = c.req.valid('query').force === 'true';
      const record = await service.delete(id, { force });
      audit(c, 'resource deleted', { resourceId: id, name: record.name, force });
      return c.body(null, 204);
    },
  );

  app.post(
    '/api/resources/:id/refresh',
    describe({
      summary: 'Read capacity and status from the engine now',
      tags: TAGS,
      operationId: 'refreshResource',
      responses: { 200: { description: 'The refreshed resource', schema: ResourceSchema } },
      errors: { 404: 'No such resource' },
    }),
    requireRole('admin'),
    validate('param', ResourceIdParam),
    async (c) => {
      const { id } = c.req.valid('param');
      await service.refresh(id);
      const out = await one(id);
      if (!out) throw notFoundResource(id);
      return c.json(out, 200);
    },
  );
}

const notFoundResource = (id: string) => notFound(`Resource ${id}`);
