import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';

export interface FairQueueOptions {
  /** Tasks running at once, over all keys. */
  readonly concurrency: number;
  /** Tasks one key may have running at once. */
  readonly perKeyRunning: number;
  /** Tasks one key may have waiting; one more is refused at once (FairQueueFullError). */
  readonly perKeyWaiting: number;
}

/** A key asked for more than its share of waiting room: refused at once, nothing was queued. */
export class FairQueueFullError extends PhoenixError {
  constructor(key: string, waiting: number) {
    super(MasterErrors.PHX_MASTER_BUSY, `too many requests from ${key} are waiting (${waiting}); ask again later`, {
      details: { key, waiting },
    });
    this.name = 'FairQueueFullError';
  }
}

interface Waiting {
  readonly start: () => void;
}

/**
 * Runs tasks with bounded concurrency, taking turns between keys (a minion, a token): the next task
 * is always from the key served longest ago (a key new to the queue counts as never served), so one
 * key with five hundred requests delays another key's single request by at most one turn, never by
 * the five hundred.
 */
export class FairQueue {
  readonly #o: FairQueueOptions;
  /** Keys with work waiting, and when each was last served (a count of starts). */
  readonly #waiting = new Map<string, { queue: Waiting[]; served: number }>();
  readonly #running = new Map<string, number>();
  #active = 0;
  #starts = 0;

  constructor(options: FairQueueOptions) {
    this.#o = options;
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const entry = this.#waiting.get(key) ?? { queue: [], served: this.#running.has(key) ? this.#starts : 0 };
    const { queue } = entry;
    if (queue.length >= this.#o.perKeyWaiting) return Promise.reject(new FairQueueFullError(key, queue.length));
    return new Promise<T>((resolve, reject) => {
      queue.push({
        start: () => {
          this.#active++;
          this.#running.set(key, (this.#running.get(key) ?? 0) + 1);
          let settled: Promise<T>;
          try {
            settled = task();
          } catch (err) {
            settled = Promise.reject(err);
          }
          void settled.then(resolve, reject).finally(() => {
            this.#active--;
            const running = (this.#running.get(key) ?? 1) - 1;
            if (running === 0) this.#running.delete(key);
            else this.#running.set(key, running);
            this.#dispatch();
          });
        },
      });
      this.#waiting.set(key, entry);
      this.#dispatch();
    });
  }

  /** Tasks waiting, over all keys. */
  get waiting(): number {
    let count = 0;
    for (const { queue } of this.#waiting.values()) count += queue.length;
    return count;
  }

  #dispatch(): void {
    while (this.#active < this.#o.concurrency) {
      let chosen: string | undefined;
      let oldest = Number.POSITIVE_INFINITY;
      for (const [key, { served }] of this.#waiting) {
        if (served >= oldest || (this.#running.get(key) ?? 0) >= this.#o.perKeyRunning) continue;
        chosen = key;
        oldest = served;
      }
      if (chosen === undefined) return;
      const entry = this.#waiting.get(chosen) as { queue: Waiting[]; served: number };
      const next = entry.queue.shift() as Waiting;
      entry.served = ++this.#starts;
      if (entry.queue.length === 0) this.#waiting.delete(chosen);
      next.start();
    }
  }
}
