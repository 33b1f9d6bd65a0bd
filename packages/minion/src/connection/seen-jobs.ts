/**
 * The jobs a minion has been sent, by jid, so a job that arrives twice runs once: masters send a
 * connecting minion the jobs it may have missed, and a job forwarded and redelivered at once may
 * come both ways. Bounded in count and in age (a jid older than any job's timeout is never sent
 * again); the newest go into the hello, so a master does not send those at all.
 */
export class SeenJobs {
  readonly #max: number;
  readonly #keepMs: number;
  readonly #now: () => number;
  /** jid → when it was first seen, oldest first. */
  readonly #seen = new Map<string, number>();

  constructor(options: { max?: number; keepMs?: number; now?: () => number } = {}) {
    this.#max = options.max ?? 1_024;
    this.#keepMs = options.keepMs ?? 86_400_000;
    this.#now = options.now ?? Date.now;
  }

  /** True the first time a jid is seen; false for one seen before. */
  add(jid: string): boolean {
    this.#forgetOld();
    if (this.#seen.has(jid)) return false;
    this.#seen.set(jid, this.#now());
    for (const old of this.#seen.keys()) {
      if (this.#seen.size <= this.#max) break;
      this.#seen.delete(old);
    }
    return true;
  }

  has(jid: string): boolean {
    return this.#seen.has(jid);
  }

  /** The `count` newest jids, newest first. */
  newest(count: number): string[] {
    this.#forgetOld();
    return [...this.#seen.keys()].slice(-count).reverse();
  }

  get size(): number {
    return this.#seen.size;
  }

  #forgetOld(): void {
    const cutoff = this.#now() - this.#keepMs;
    for (const [jid, at] of this.#seen) {
      if (at > cutoff) break;
      this.#seen.delete(jid);
    }
  }
}
