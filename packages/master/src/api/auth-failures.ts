/**
 * Counts failed authentications per client address in a fixed window. An address with too many
 * failures is refused (429) until its window ends, so a token cannot be guessed at speed. One per
 * API instance: nothing is shared between masters or through process globals.
 */
export class AuthFailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #byAddress = new Map<string, { count: number; resetAt: number }>();

  constructor(options: { maxFailures: number; windowMs: number; now?: () => number }) {
    this.#max = options.maxFailures;
    this.#windowMs = options.windowMs;
    this.#now = options.now ?? Date.now;
  }

  /** Milliseconds until `address` may try again, or 0 when it may try now. */
  retryAfterMs(address: string): number {
    const entry = this.#byAddress.get(address);
    if (entry === undefined) return 0;
    const now = this.#now();
    if (entry.resetAt <= now) {
      this.#byAddress.delete(address);
      return 0;
    }
    return entry.count >= this.#max ? entry.resetAt - now : 0;
  }

  fail(address: string): void {
    const now = this.#now();
    const entry = this.#byAddress.get(address);
    if (entry === undefined || entry.resetAt <= now) {
      this.#byAddress.set(address, { count: 1, resetAt: now + this.#windowMs });
      this.#prune(now);
    } else {
      entry.count++;
    }
  }

  /** Bounded memory under a flood from many addresses: expired entries go, then the oldest. */
  #prune(now: number): void {
    if (this.#byAddress.size <= 10_000) return;
    for (const [address, entry] of this.#byAddress) if (entry.resetAt <= now) this.#byAddress.delete(address);
    for (const address of this.#byAddress.keys()) {
      if (this.#byAddress.size <= 10_000) break;
      this.#byAddress.delete(address);
    }
  }
}
