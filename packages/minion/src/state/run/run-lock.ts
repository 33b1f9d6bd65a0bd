import { StateError, StateErrorCodes } from '@phoenix/state';

/** Who holds a minion's state run. */
export interface RunOwner {
  readonly jid: string;
  readonly fun: string;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
}

interface Waiter {
  readonly owner: RunOwner;
  readonly grant: () => void;
}

/**
 * One state run at a time per minion, as in Salt: two runs would fight over the same files and
 * services. A second run is refused with the running jid and function, or with `queue` waits its
 * turn (first come, first served; the job's signal still stops the wait).
 */
export class StateRunLock {
  #holder: RunOwner | undefined;
  readonly #waiting: Waiter[] = [];

  get holder(): RunOwner | undefined {
    return this.#holder;
  }

  /** Resolves with the release function once the run may start. */
  async acquire(owner: RunOwner, options: { queue: boolean; signal: AbortSignal }): Promise<() => void> {
    options.signal.throwIfAborted();
    if (this.#holder === undefined) return this.#grant(owner);
    if (!options.queue) throw busy(this.#holder);
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        owner,
        grant: () => {
          options.signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(waiter);
        if (index !== -1) this.#waiting.splice(index, 1);
        reject(options.signal.reason as unknown);
      };
      options.signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
    return this.#release(owner);
  }

  #grant(owner: RunOwner): () => void {
    this.#holder = owner;
    return this.#release(owner);
  }

  /** Hands the lock straight to the next waiter, so no new run can slip in between. */
  #release(owner: RunOwner): () => void {
    let released = false;
    return () => {
      if (released || this.#holder !== owner) return;
      released = true;
      const next = this.#waiting.shift();
      this.#holder = next?.owner;
      next?.grant();
    };
  }
}

function busy(holder: RunOwner): StateError {
  return new StateError(
    StateErrorCodes.BUSY,
    `The function "${holder.fun}" is running as jid ${holder.jid} since ${new Date(holder.startedAt).toISOString()}: one state run at a time per minion. Pass queue=True to wait for it.`,
    { details: { jid: holder.jid, fun: holder.fun } },
  );
}
