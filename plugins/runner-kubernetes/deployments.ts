/**
 * The Kubernetes runner's replicated workloads: one Deployment per allocation (deployment-spec.ts),
 * addressed by its name like a single pod is. The runner asks here first for names it does not
 * find as pods; everything is read fresh from the API server (no cache to go stale across
 * IARNet replicas or restarts).
 *
 * Start waits until every replica runs (or fails with the first pod's reason, as a single pod
 * does); stop deletes in the foreground, so the Deployment is gone only once its pods are, and
 * the quota is released only when the cluster no longer runs anything of it.
 */
import {
  type AppsV1Api,
  type CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { conflict } from '../../core/kernel/errors.ts';
import { LABELS, type WorkloadInfo, type WorkloadSpec } from '../../core/slots/runner.ts';
import {
  buildDeployment,
  deploymentInfo,
  deploymentProblem,
  REPLICA_OF,
  RESTARTED_AT,
  rolledOut,
} from './deployment-spec.ts';
import { KubernetesApiError, startProblemError } from './errors.ts';

export interface DeploymentContext {
  namespace: string;
  apps: AppsV1Api;
  core: CoreV1Api;
  /** One API call with the runner's deadline and error translation. */
  call<T>(what: string, fn: () => Promise<T>): Promise<T>;
  /** A create retried while the API server is briefly busy. */
  create<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  startTimeoutMs: number;
  terminationGraceSeconds: number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  pollMs(attempt: number): number;
}

const createdMs = (p: V1Pod) => {
  const t = p.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
};

const apiError = (what: string, message: string, statusCode: number) =>
  new KubernetesApiError(what, Object.assign(new Error(message), { statusCode }));

export class Deployments {
  readonly #c: DeploymentContext;

  constructor(context: DeploymentContext) {
    this.#c = context;
  }

  async read(name: string): Promise<V1Deployment | undefined> {
    try {
      return await this.#c.call('read the deployment', () =>
        this.#c.apps.readNamespacedDeployment({ name, namespace: this.#c.namespace }),
      );
    } catch (err) {
      if (err instanceof KubernetesApiError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /** The pods of one Deployment, or of every IARNet Deployment (grouped by the caller). */
  async pods(name?: string): Promise<V1Pod[]> {
    const list = await this.#c.call('list the deployment pods', () =>
      this.#c.core.listNamespacedPod({
        namespace: this.#c.namespace,
        labelSelector: name ? `${REPLICA_OF}=${name}` : REPLICA_OF,
      }),
    );
    return list.items;
  }

  async start(spec: WorkloadSpec, signal?: AbortSignal): Promise<WorkloadInfo> {
    const body = buildDeployment(spec, this.#c.namespace, {
      terminationGraceSeconds: this.#c.terminationGraceSeconds,
    });
    try {
      await this.#c.create(
        'create the deployment',
        () => this.#c.apps.createNamespacedDeployment({ namespace: this.#c.namespace, body }),
        signal,
      );
    } catch (err) {
      if (!(err instanceof KubernetesApiError && err.statusCode === 409)) throw err;
      // The name is taken: an earlier attempt of this allocation (adopt it) or someone else's.
      const existing = await this.read(spec.name);
      if (!existing) throw err;
      const alloc = spec.labels[LABELS.alloc];
      if (alloc === undefined || existing.metadata?.labels?.[LABELS.alloc] !== alloc) {
        throw conflict(`a deployment named "${spec.name}" already exists and belongs to another allocation`);
      }
      if (existing.metadata?.deletionTimestamp) {
        throw conflict(`the deployment "${spec.name}" is being deleted; try again`);
      }
    }
    return this.#waitRolledOut(spec.name, 'start the deployment', signal);
  }

  /** Until every replica of the current template runs, or the first reason it will not. */
  async #waitRolledOut(name: string, what: string, signal?: AbortSignal): Promise<WorkloadInfo> {
    const deadline = Date.now() + this.#c.startTimeoutMs;
    for (let i = 0; ; i++) {
      const d = await this.read(name);
      if (!d) throw apiError(what, 'the deployment vanished while starting', 404);
      if (d.metadata?.deletionTimestamp) throw conflict(`the deployment "${name}" is being deleted`);
      const pods = await this.pods(name);
      if (rolledOut(d)) return deploymentInfo(d, pods);
      const problem = deploymentProblem(d, pods);
      if (problem) {
        throw startProblemError(problem, {
          image: d.spec?.template?.spec?.containers?.[0]?.image ?? '',
          namespace: this.#c.namespace,
          what,
        });
      }
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      if (Date.now() > deadline) {
        const ready = d.status?.readyReplicas ?? 0;
        throw apiError(
          what,
          `${ready} of ${d.spec?.replicas ?? 1} pods ran within ${Math.round(this.#c.startTimeoutMs / 1000)} s`,
          504,
        );
      }
      await this.#c.sleep(this.#c.pollMs(i), signal);
    }
  }

  async inspect(name: string): Promise<WorkloadInfo | undefined> {
    const d = await this.read(name);
    return d ? deploymentInfo(d, await this.pods(name)) : undefined;
  }

  async list(selector: string): Promise<WorkloadInfo[]> {
    const [deployments, pods] = await Promise.all([
      this.#c.call('list deployments', () =>
        this.#c.apps.listNamespacedDeployment({ namespace: this.#c.namespace, labelSelector: selector }),
      ),
      this.pods(),
    ]);
    const byOwner = new Map<string, V1Pod[]>();
    for (const p of pods) {
      const owner = p.metadata?.labels?.[REPLICA_OF];
      if (owner) byOwner.set(owner, [...(byOwner.get(owner) ?? []), p]);
    }
    return deployments.items.map((d) => deploymentInfo(d, byOwner.get(d.metadata?.name ?? '') ?? []));
  }

  /** Delete in the foreground (the object stays until its pods are gone). false: there was none. */
  async delete(name: string): Promise<boolean> {
    try {
      await this.#c.call('delete the deployment', () =>
        this.#c.apps.deleteNamespacedDeployment({
          name,
          namespace: this.#c.namespace,
          propagationPolicy: 'Foreground',
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof KubernetesApiError && err.statusCode === 404) return false;
      throw err;
    }
  }

  /** true when the Deployment (and so, in the foreground, its pods) is gone within `ms`. */
  async waitGone(name: string, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (let i = 0; ; i++) {
      if (!(await this.read(name))) return true;
      if (Date.now() > deadline) return false;
      await this.#c.sleep(this.#c.pollMs(i));
    }
  }

  /** Replace every pod, one at a time (a rollout restart), and wait until all run again. */
  async restart(name: string): Promise<void> {
    await this.#c.call('restart the deployment', () =>
      this.#c.apps.patchNamespacedDeployment(
        {
          name,
          namespace: this.#c.namespace,
          body: {
            spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date().toISOString() } } } },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
    await this.#waitRolledOut(name, 'restart the deployment');
  }

  /** The pods not being deleted, oldest first (for logs and stats). */
  async livePods(name: string): Promise<V1Pod[]> {
    return (await this.pods(name))
      .filter((p) => p.metadata?.name && !p.metadata.deletionTimestamp)
      .sort((a, b) => createdMs(a) - createdMs(b));
  }
}
