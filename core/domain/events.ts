/**
 * The node's event stream: run and resource changes, pushed to dashboards over SSE.
 * In memory, with a bounded replay buffer so a reconnecting client (Last-Event-ID) misses nothing
 * recent; a client too far behind gets a `reset` event and reloads its view.
 */
import { serviceKey } from '../kernel/services.ts';

export interface IarnetEvent {
  /** Monotonic per process. */
  id: number;
  type: string;
  at: string;
  data: Record<string, unknown>;
}

type Listener = (e: IarnetEvent) => void;

export class EventBus {
  readonly #buffer: IarnetEvent[] = [];
  readonly #listeners = new Set<Listener>();
  readonly #capacity: number;
  #next = 1;

  constructor(capacity = 1000) {
    this.#capacity = capacity;
  }

  emit(type: string, data: Record<string, unknown>): IarnetEvent {
    const event = { id: this.#next++, type, at: new Date().toISOString(), data };
    this.#buffer.push(event);
    if (this.#buffer.length > this.#capacity) this.#buffer.shift();
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // A slow or broken subscriber must not break the emitter or other subscribers.
      }
    }
    return event;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Events after `lastId`, or undefined when they are no longer buffered. */
  since(lastId: number): IarnetEvent[] | undefined {
    const oldest = this.#buffer[0]?.id ?? this.#next;
    if (lastId + 1 < oldest) return undefined;
    return this.#buffer.filter((e) => e.id > lastId);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }
}

export const EventBusKey = serviceKey<EventBus>('events');
