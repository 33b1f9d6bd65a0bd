import { PhoenixError } from '@phoenix/protocol';
import { MasterErrorCodes } from '../errors.js';

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
    super(MasterErrorCodes.BUSY, `too many requests from ${key} are waiting (${waiting}); ask again later`, {
      details: { key, waiting },
    });
    this.name = 'FairQueueFullError';
  }
}

interface Waiting {
  readonly start: () => void;
}

/**
 * Runs tasks with bounded concurrency, taking turns between keys (a minion, a token): whoever has
 * work waiting is served once before anyone is served twice, so one key with five hundred requests
 * delays another key's single request by at most one round, never by the five hundred.
 */
export class FairQueue {
  readonly #o: FairQueueOptions;
  /** Keys with work waiting, in turn order (a Map iterates in insertion order). */
  readonly #waiting = new Map<string, Waiting[]>();
  readonly #running = new Map<string, number>();
  #active = 0;

  constructor(options: FairQueueOptions) {
    this.#o = options;
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const queue = this.#waiting.get(key) ?? [];
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
      this.#waiting.set(key, queue);
      this.#dispatch();
    });
  }

  /** Tasks waiting, over all keys. */
  get waiting(): number {
    let count = 0;
    for (const queue of this.#waiting.values()) count += queue.length;
    return count;
  }

  #dispatch(): void {
    while (this.#active < this.#o.concurrency) {
      let started = false;
      for (const [key, queue] of this.#waiting) {
        if ((this.#running.get(key) ?? 0) >= this.#o.perKeyRunning) continue;
        const next = queue.shift() as Waiting;
        // Its turn is used: to the back of the line (or out of it, with nothing left to wait for).
        this.#waiting.delete(key);
        if (queue.length > 0) this.#waiting.set(key, queue);
        next.start();
        started = true;
        break;
      }
      if (!started) return;
    }
  }
}
