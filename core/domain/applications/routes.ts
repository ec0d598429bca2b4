/**
 * HTTP routes of the applications module (the design document's 应用管理, section 4.2.2):
 *
 *   GET    /api/applications              viewer    list, oldest first
 *   POST   /api/applications              operator  create (advanced config); nothing is cloned
 *   POST   /api/applications/parse-git    operator  quick import: clone shallowly, detect, forget
 *   GET    /api/applications/{id}         viewer
 *   PUT    /api/applications/{id}         operator  partial update (omitted: kept; null: cleared)
 *   DELETE /api/applications/{id}         operator  409 while running or deploying
 *   POST   /api/deploy {applicationId}    operator  build from Git when there is no image, then start
 *                                                    `instances` containers
 *   POST   /api/applications/{id}/deploy  operator  the same
 *   POST   /api/applications/{id}/stop    operator  stop every instance, releasing its quota
 *   POST   /api/applications/{id}/restart operator  restart the instances (deploy when none run)
 *
 * Secret env values and the Git token are write-only. Git problems are 400s with a code
 * (VALIDATION_FAILED for refused input; GIT_NOT_FOUND, GIT_UNREACHABLE, GIT_TIMEOUT,
 * GIT_TOO_LARGE, GIT_FAILED when the repository could not be read).
 */
import type { Context } from 'hono';
import * as v from 'valibot';
import { requireRole } from '../../kernel/guard.ts';
import { describe } from '../../kernel/openapi.ts';
import type { App, AppEnv } from '../../kernel/plugin.ts';
import { validate } from '../../kernel/validation.ts';
import type { IdempotencyStore } from '../idempotency.ts';
import type { ApplicationDeployer } from './deploy.ts';
import { idempotent } from './idempotent.ts';
import {
  AppIdParam,
  type ApplicationOut,
  ApplicationSchema,
  CreateApplicationBody,
  DeployBody,
  ParseGitBody,
  RepoInfoSchema,
  UpdateApplicationBody,
} from './model.ts';
import type { ApplicationService } from './service.ts';

const TAGS = ['applications'];

/** Who changed which application, for the operator's log. Never secrets or tokens. */
function audit(c: Context<AppEnv>, what: string, fields: Record<string, unknown>): void {
  const p = c.get('principal');
  c.get('logger').info({ audit: true, actor: { id: p.id, name: p.name, kind: p.kind }, ...fields }, what);
}

export function applicationRoutes(
  app: App,
  service: ApplicationService,
  deployer: ApplicationDeployer,
  idempotency: () => IdempotencyStore | undefined,
): void {
  app.get(
    '/api/applications',
    describe({
      summary: 'List applications',
      tags: TAGS,
      operationId: 'listApplications',
      responses: { 200: { description: 'Applications, oldest first', schema: v.array(ApplicationSchema) } },
    }),
    requireRole('viewer'),
    async (c) => c.json(await service.list(), 200),
  );

  app.post(
    '/api/applications',
    describe({
      summary: 'Create an application (from a Git repository, an image, or both)',
      description:
        'Validates the Git URL and branch (allowed schemes, no credentials in the URL, safe ref names) without ' +
        'cloning. Environment values marked secret and gitToken are stored encrypted and never returned.',
      tags: TAGS,
      operationId: 'createApplication',
      body: true,
      responses: { 201: { description: 'Created', schema: ApplicationSchema } },
      errors: { 409: 'An application with this name exists' },
    }),
    requireRole('operator'),
    validate('json', CreateApplicationBody),
    async (c) => {
      const out = await service.create(c.req.valid('json'));
      audit(c, 'application created', { appId: out.id, name: out.name, gitUrl: out.gitUrl || undefined });
      return c.json(out, 201);
    },
  );

  app.post(
    '/api/applications/parse-git',
    describe({
      summary: 'Inspect a Git repository: name, type, runtime, default port, commit',
      description:
        'Clones the branch (or the default branch) shallowly into a private temporary directory, detects ' +
        'Dockerfile / Node / Python / Go / static site from root files (symlinks are never followed), and ' +
        'removes the clone. Bounded by git.timeout_seconds and git.max_repo_bytes.',
      tags: TAGS,
      operationId: 'parseGitRepository',
      body: true,
      responses: { 200: { description: 'What the repository holds', schema: RepoInfoSchema } },
      errors: { 503: 'The git plugin is not loaded' },
    }),
    requireRole('operator'),
    validate('json', ParseGitBody),
    async (c) => c.json(await service.parseGit(c.req.valid('json')), 200),
  );

  app.get(
    '/api/applications/:id',
    describe({
      summary: 'Get an application',
      tags: TAGS,
      operationId: 'getApplication',
      responses: { 200: { description: 'The application', schema: ApplicationSchema } },
      errors: { 404: 'No such application' },
    }),
    requireRole('viewer'),
    validate('param', AppIdParam),
    async (c) => c.json(await service.get(c.req.valid('param').id), 200),
  );

  app.put(
    '/api/applications/:id',
    describe({
      summary: 'Update an application (omitted fields are kept; null clears optional ones)',
      tags: TAGS,
      operationId: 'updateApplication',
      body: true,
      responses: { 200: { description: 'The updated application', schema: ApplicationSchema } },
      errors: { 404: 'No such application', 409: 'An application with this name exists' },
    }),
    requireRole('operator'),
    validate('param', AppIdParam),
    validate('json', UpdateApplicationBody),
    async (c) => {
      const { id } = c.req.valid('param');
      const out = await service.update(id, c.req.valid('json'));
      audit(c, 'application updated', { appId: id });
      return c.json(out, 200);
    },
  );

  app.delete(
    '/api/applications/:id',
    describe({
      summary: 'Delete an application',
      tags: TAGS,
      operationId: 'deleteApplication',
      responses: { 204: { description: 'Deleted' } },
      errors: { 404: 'No such application', 409: 'The application is running or deploying' },
    }),
    requireRole('operator'),
    validate('param', AppIdParam),
    async (c) => {
      const { id } = c.req.valid('param');
      await deployer.assertNothingRunning(id);
      await service.delete(id);
      await deployer.forget(id);
      audit(c, 'application deleted', { appId: id });
      return c.body(null, 204);
    },
  );

  const DEPLOY_ERRORS = {
    404: 'No such application',
    409: 'Already running, or another deploy/stop/restart is in progress',
    422: 'The image could not be built from the repository (refused or failed)',
    503: 'Over quota, no resource with room, or the platform is not loaded',
  };
  const lifecycle = (
    action: 'deploy' | 'stop' | 'restart',
    summary: string,
    run: (id: string, c: Context<AppEnv>) => Promise<ApplicationOut>,
  ) =>
    app.post(
      `/api/applications/:id/${action}`,
      describe({
        summary,
        tags: TAGS,
        operationId: `${action}Application`,
        responses: { 200: { description: 'The application after the operation', schema: ApplicationSchema } },
        errors: DEPLOY_ERRORS,
      }),
      requireRole('operator'),
      validate('param', AppIdParam),
      async (c) => {
        const { id } = c.req.valid('param');
        const res =
          action === 'deploy'
            ? await idempotent(c, idempotency(), { deploy: id }, () => run(id, c))
            : c.json(await run(id, c), 200);
        audit(c, `application ${action}`, { appId: id });
        return res;
      },
    );

  app.post(
    '/api/deploy',
    describe({
      summary: 'Deploy an application: start its instances (the design document’s deploy call)',
      description:
        'Builds the image from the Git repository when the application has none (output as application:build ' +
        'events), then starts `instances` containers through the same admission, placement and ' +
        'quota booking as POST /run. Status goes deploying → running, or error (and nothing stays booked). ' +
        'Send an Idempotency-Key header to make retries safe: a repeat returns the first answer.',
      tags: TAGS,
      operationId: 'deploy',
      body: true,
      responses: { 200: { description: 'The deployed application', schema: ApplicationSchema } },
      errors: DEPLOY_ERRORS,
    }),
    requireRole('operator'),
    validate('json', DeployBody),
    async (c) => {
      const { applicationId } = c.req.valid('json');
      const res = await idempotent(c, idempotency(), { deploy: applicationId }, () =>
        deployer.deploy(applicationId, c.get('principal')),
      );
      audit(c, 'application deploy', { appId: applicationId });
      return res;
    },
  );
  lifecycle('deploy', 'Deploy an application (start its instances)', (id, c) =>
    deployer.deploy(id, c.get('principal')),
  );
  lifecycle('stop', 'Stop every instance of an application, releasing its quota', (id) => deployer.stop(id));
  lifecycle('restart', 'Restart the instances of an application (deploys when none run)', (id, c) =>
    deployer.restart(id, c.get('principal')),
  );
}
