/** Time as a parameter: code that reads the time or sets timers through this can be tested on a clock that moves when told. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
});

/**
 * A clock that moves only when told: `advance` fires, in order, every timer that falls due. For
 * tests whose real parts (sockets, emulators) need the real timers that `mock.timers` would stop.
 */
export class ManualClock implements Clock {
  time = 1_700_000_000_000;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #nextId = 0;

  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.#nextId;
    this.#timers.set(id, { at: this.time + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  /** Delays (from now) of the timers still pending. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.time);
  }
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = until;
  }
}
