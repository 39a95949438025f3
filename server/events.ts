/**
 * A small typed event bus. A listener that throws is logged and isolated: it
 * never stops the ingest or the other listeners.
 */
import type { Logger } from 'pino';
import type { Reading } from '../devices/validateReading.js';
import type { ClientKind } from './store/directoryStore.js';

export interface HubEvents {
  /** A reading was committed to the store for the first time (duplicates are not announced). */
  'reading.stored': Reading;
  /** A device or gateway changed state: status message, last will, connect or disconnect. */
  'device.status': { clientId: string; kind: ClientKind; homeId: string; online: boolean; at: number; source: 'status' | 'connection' };
}

type Listener<T> = (data: T) => void;

export class EventBus {
  private readonly listeners = new Map<keyof HubEvents, Array<Listener<never>>>();

  constructor(private readonly log: Logger) {}

  on<K extends keyof HubEvents>(type: K, listener: Listener<HubEvents[K]>): () => void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener as Listener<never>);
    this.listeners.set(type, list);
    return () => {
      const i = list.indexOf(listener as Listener<never>);
      if (i >= 0) list.splice(i, 1);
    };
  }

  emit<K extends keyof HubEvents>(type: K, data: HubEvents[K]): void {
    const list = this.listeners.get(type);
    if (!list) return;
    for (const listener of list) {
      try {
        (listener as Listener<HubEvents[K]>)(data);
      } catch (err) {
        this.log.error({ err, event: type }, 'event listener failed');
      }
    }
  }
}
