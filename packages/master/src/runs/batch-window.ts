/**
 * The window of a batch rollout, as Salt's batch and AWS SSM's MaxConcurrency/MaxErrors keep it:
 * at most `size` minions run at once; a minion that finishes frees its place only after `waitMs`
 * (Salt's --batch-wait); once more minions failed than `allowance`, nothing new starts and the
 * minions already running finish. Pure: the caller says what happened and when.
 */
export interface BatchWindowOptions {
  readonly size: number;
  readonly waitMs: number;
  /** Failures tolerated; one more stops the rollout. Undefined: never stop. */
  readonly allowance: number | undefined;
}

export interface BatchWindowState {
  /** Minions sent the job that have not finished. */
  readonly running: number;
  readonly failures: number;
  /** When each finished minion's place is free again (only those still held matter). */
  readonly heldUntil: readonly number[];
}

export class BatchWindow {
  readonly #o: BatchWindowOptions;
  #running: number;
  #failures: number;
  #held: number[];

  constructor(options: BatchWindowOptions, state: BatchWindowState = { running: 0, failures: 0, heldUntil: [] }) {
    this.#o = options;
    this.#running = state.running;
    this.#failures = state.failures;
    this.#held = [...state.heldUntil];
  }

  get running(): number {
    return this.#running;
  }

  get failures(): number {
    return this.#failures;
  }

  /** More failures than the allowance: start nothing more. */
  get stopped(): boolean {
    return this.#o.allowance !== undefined && this.#failures > this.#o.allowance;
  }

  /** How many minions may start now. */
  free(now: number): number {
    if (this.stopped) return 0;
    this.#held = this.#held.filter((until) => until > now);
    return Math.max(0, this.#o.size - this.#running - this.#held.length);
  }

  /** When a held place frees next (a timer for the caller), if one is held. */
  nextFreeAt(now: number): number | undefined {
    const later = this.#held.filter((until) => until > now);
    return later.length === 0 ? undefined : Math.min(...later);
  }

  started(count: number): void {
    this.#running += count;
  }

  finished(ok: boolean, now: number): void {
    this.#running = Math.max(0, this.#running - 1);
    if (!ok) this.#failures++;
    if (this.#o.waitMs > 0) this.#held.push(now + this.#o.waitMs);
  }
}
