/**
 * The registry runner plugins add their resource types to (RunnerTypesKey). The resources
 * plugin provides it during its setup; runner plugins register during theirs, so list
 * `resources` before them (dependencies or optionalDependencies) to find it.
 */
import type { RunnerFactory, RunnerTypes } from '../../slots/runner.ts';

const TYPE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export class RunnerTypeRegistry implements RunnerTypes {
  readonly #factories = new Map<string, RunnerFactory>();

  register(factory: RunnerFactory): void {
    if (!TYPE_NAME.test(factory.type)) {
      throw new Error(`runner type "${factory.type}" is not a valid name (lower-case letters, digits, "-")`);
    }
    if (this.#factories.has(factory.type)) {
      throw new Error(`a runner for type "${factory.type}" is already registered`);
    }
    this.#factories.set(factory.type, factory);
  }

  get(type: string): RunnerFactory | undefined {
    return this.#factories.get(type);
  }

  types(): string[] {
    return [...this.#factories.keys()].sort();
  }
}
