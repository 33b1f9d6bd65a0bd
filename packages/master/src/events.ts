import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

/** One thing that happened in the cluster, for logs and (through the API) for operators. */
export interface ClusterEvent {
  /** Unique in the cluster, the same on every master that relays it: a reaction claims it by this. */
  id: string;
  tag: string;
  at: number;
  masterId: string;
  data: Record<string, unknown>;
}

/**
 * This master's event bus: every lifecycle step, key decision and highstate milestone is one
 * structured log line and one event that listeners (the API's event stream) receive, along with
 * the events peers relay, so any master's stream shows the whole cluster.
 */
export class ClusterEvents {
  // One listener per open event stream and a few of the master's own: no listener limit.
  readonly #bus = new EventEmitter<{ event: [ClusterEvent] }>().setMaxListeners(0);
  readonly #masterId: string;
  readonly #log: Logger;

  /** The master whose events these are. */
  get masterId(): string {
    return this.#masterId;
  }

  constructor(masterId: string, log: Logger) {
    this.#masterId = masterId;
    this.#log = log;
  }

  emit(tag: string, data: Record<string, unknown>): ClusterEvent {
    const event: ClusterEvent = { id: randomUUID(), tag, at: Date.now(), masterId: this.#masterId, data };
    // A job's returns are one event each (its summary one a second): at info they would be most of
    // a busy master's log.
    if (tag === 'job/return' || tag === 'job/summarized') {
      if (this.#log.isLevelEnabled('debug')) this.#log.debug({ event: tag, ...data }, tag);
    } else this.#log.info({ event: tag, ...data }, tag);
    this.#bus.emit('event', event);
    return event;
  }

  /** An event a peer emitted: this master's listeners hear it too (it is logged where it happened). */
  relay(event: ClusterEvent): void {
    if (event.masterId === this.#masterId) return;
    this.#bus.emit('event', event);
  }

  /** Hears this master's events and those relayed from peers (`event.masterId` says whose). */
  on(listener: (event: ClusterEvent) => void): () => void {
    this.#bus.on('event', listener);
    return () => void this.#bus.off('event', listener);
  }
}
