/**
 * Services are shared between plugins by typed keys, not by decorating a global object.
 * A key is created once (usually next to the service's interface in `core/slots/`) and
 * both the provider and the consumers import it.
 */
export interface ServiceKey<T> {
  readonly id: symbol;
  readonly name: string;
  /** Phantom field carrying the service type; never set at run time. */
  readonly __type?: T;
}

export function serviceKey<T>(name: string): ServiceKey<T> {
  return { id: Symbol(name), name };
}

export class ServiceRegistry {
  private readonly entries = new Map<symbol, { value: unknown; provider: string; name: string }>();

  provide<T>(key: ServiceKey<T>, value: T, provider = 'core'): void {
    const existing = this.entries.get(key.id);
    if (existing) {
      throw new Error(
        `service "${key.name}" is provided twice: by "${existing.provider}" and by "${provider}"`,
      );
    }
    this.entries.set(key.id, { value, provider, name: key.name });
  }

  get<T>(key: ServiceKey<T>, consumer = 'core'): T {
    const entry = this.entries.get(key.id);
    if (!entry) {
      throw new Error(
        `"${consumer}" needs service "${key.name}", but no plugin provides it (is the providing plugin listed in its dependencies?)`,
      );
    }
    return entry.value as T;
  }

  tryGet<T>(key: ServiceKey<T>): T | undefined {
    return this.entries.get(key.id)?.value as T | undefined;
  }

  has(key: ServiceKey<unknown>): boolean {
    return this.entries.has(key.id);
  }

  /** Which plugin provides each service (for `iarnet plugins`). */
  list(): { name: string; provider: string }[] {
    return [...this.entries.values()].map(({ name, provider }) => ({ name, provider }));
  }
}
