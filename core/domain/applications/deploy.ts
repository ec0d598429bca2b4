/**
 * Deploying an application: start `instances` containers of its image through the platform's
 * RunService (so every one is admitted, placed and booked in the quota ledger like POST /run,
 * labelled with the application id), and stop or restart them all.
 *
 * Status: idle/stopped/error → deploying → running, or → error when any instance fails (the ones
 * already started are stopped again, so a failed deploy holds no quota). Only one deploy, stop or
 * restart runs per application at a time (the status is claimed in a transaction).
 *
 * Images are not built from Git yet: an application without `image` gets 422.
 */
import { ApiError, conflict, unavailable } from '../../kernel/errors.ts';
import type { Logger } from '../../kernel/logger.ts';
import type { Principal } from '../../slots/auth.ts';
import type { PortMapping } from '../../slots/runner.ts';
import type { Allocation, LedgerReader } from '../ledger/types.ts';
import type { ResourceCatalog } from '../resources/types.ts';
import type { RunService } from '../runs.ts';
import type { ApplicationOut } from './model.ts';
import type { ApplicationRow } from './schema.ts';
import type { ApplicationService } from './service.ts';

const GiB = 2 ** 30;

export interface DeployDeps {
  apps: ApplicationService;
  runs: () => RunService | undefined;
  catalog: () => ResourceCatalog | undefined;
  ledger: () => LedgerReader | undefined;
  logger: Logger;
}

function platform(d: DeployDeps) {
  const runs = d.runs();
  const catalog = d.catalog();
  const ledger = d.ledger();
  if (!runs || !catalog || !ledger) {
    throw unavailable(
      'Deploying needs the platform and resources modules, which are not loaded',
      'PLATFORM_UNAVAILABLE',
    );
  }
  return { runs, catalog, ledger };
}

const reasonOf = (err: unknown) =>
  err instanceof ApiError ? `${err.message}: ${err.details}` : 'the deploy failed unexpectedly';

export class ApplicationDeployer {
  readonly #d: DeployDeps;

  constructor(deps: DeployDeps) {
    this.#d = deps;
  }

  /** Active allocations (reserved or committed) of one application, on every resource. */
  async allocations(appId: string): Promise<Allocation[]> {
    const { catalog, ledger } = platform(this.#d);
    const out: Allocation[] = [];
    for (const r of await catalog.list()) {
      for (const a of await ledger.activeOn(r.id)) if (a.appId === appId) out.push(a);
    }
    return out;
  }

  /** 409 when any instance still holds quota (e.g. a failed stop left status `error`). */
  async assertNothingRunning(id: string): Promise<void> {
    if (!this.#d.runs()) return;
    if ((await this.allocations(id)).length) {
      throw conflict('Instances of this application are still running; stop it before deleting it');
    }
  }

  async deploy(id: string, principal: Principal): Promise<ApplicationOut> {
    const { runs } = platform(this.#d);
    const row = await this.#d.apps.row(id);
    if (!row.image) {
      throw new ApiError(
        422,
        'IMAGE_REQUIRED',
        'Unprocessable',
        'This application has no image; building images from its Git repository is not available yet',
      );
    }
    if ((await this.allocations(id)).length) {
      throw conflict('The application is already running; stop or restart it instead');
    }
    const claimed = await this.#d.apps.claim(id, ['idle', 'stopped', 'error'], 'deploying');
    const env = this.#d.apps.openEnv(claimed);
    const ports = this.#ports(claimed);
    const started: Allocation[] = [];
    const placed: string[] = [];
    try {
      for (let i = 0; i < claimed.instances; i++) {
        const result = await runs.run(
          {
            image: row.image,
            ...(claimed.command ? { command: claimed.command } : {}),
            cpuMilli: Math.round(claimed.cpu * 1000),
            memory: Math.round(claimed.memory * GiB),
            gpu: claimed.gpu,
            env,
            ports,
            appId: id,
          },
          principal,
        );
        if (result.where === 'local') {
          started.push(result.allocation);
          placed.push(result.allocation.resourceId);
        } else {
          placed.push(`${result.placement.nodeId}/${result.placement.resourceId}`);
        }
      }
    } catch (err) {
      await Promise.all(
        started.map((a) =>
          runs.stop(a).catch((e: unknown) => {
            this.#d.logger.warn(
              { app: id, allocation: a.id, err: (e as Error).name },
              'could not stop an instance of a failed deploy',
            );
          }),
        ),
      );
      await this.#d.apps.setStatus(id, 'error', { reason: reasonOf(err), runningOn: [] });
      this.#d.logger.info({ app: id, reason: reasonOf(err) }, 'deploy failed');
      throw err;
    }
    await this.#d.apps.setStatus(id, 'running', {
      runningOn: [...new Set(placed)],
      lastDeployed: Date.now(),
    });
    this.#d.logger.info({ app: id, instances: claimed.instances }, 'application deployed');
    return this.#d.apps.get(id);
  }

  async stop(id: string): Promise<ApplicationOut> {
    const { runs } = platform(this.#d);
    await this.#d.apps.row(id);
    const before = await this.#d.apps.claim(id, ['running', 'error', 'stopped', 'idle'], 'deploying');
    // In parallel: each stop may wait the engine's grace period.
    const results = await Promise.allSettled((await this.allocations(id)).map((a) => runs.stop(a)));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length) {
      await this.#d.apps.setStatus(id, 'error', { reason: reasonOf(failures[0]) });
      throw failures[0];
    }
    await this.#d.apps.setStatus(id, before.status === 'idle' ? 'idle' : 'stopped', { runningOn: [] });
    return this.#d.apps.get(id);
  }

  async restart(id: string, principal: Principal): Promise<ApplicationOut> {
    const { runs } = platform(this.#d);
    const active = await this.allocations(id);
    if (!active.length) return this.deploy(id, principal);
    await this.#d.apps.claim(id, ['running', 'error'], 'deploying');
    try {
      const results = await Promise.allSettled(active.map((a) => runs.restart(a)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (err) {
      await this.#d.apps.setStatus(id, 'error', { reason: reasonOf(err) });
      throw err;
    }
    await this.#d.apps.setStatus(id, 'running', { lastDeployed: Date.now() });
    return this.#d.apps.get(id);
  }

  /** Service ports become fixed host ports only for a single instance (more would collide). */
  #ports(row: ApplicationRow): PortMapping[] {
    return row.ports.map((p) => ({
      containerPort: p.containerPort,
      ...(row.instances === 1 && p.servicePort ? { hostPort: p.servicePort } : {}),
      protocol: p.protocol === 'UDP' ? 'udp' : 'tcp',
    }));
  }
}
