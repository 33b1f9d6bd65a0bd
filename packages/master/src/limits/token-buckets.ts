export interface TokenBucketOptions {
  /** What one key may do at once after a quiet while. */
  readonly burst: number;
  /** How fast a key's allowance comes back, per second. */
  readonly perSecond: number;
  /** Keys remembered at most; the least recently used is forgotten first (it then starts full). */
  readonly maxKeys: number;
  readonly now?: () => number;
}

/**
 * A token bucket per key (a connection, an address): `take` spends one token if the key has one.
 * Memory is bounded by `maxKeys`, whatever the number of keys that ever asked.
 */
export class TokenBuckets<K> {
  readonly #o: Required<TokenBucketOptions>;
  readonly #buckets = new Map<K, { tokens: number; at: number }>();

  constructor(options: TokenBucketOptions) {
    this.#o = { now: Date.now, ...options };
  }

  take(key: K): boolean {
    const now = this.#o.now();
    const bucket = this.#buckets.get(key);
    let tokens = this.#o.burst;
    if (bucket !== undefined) {
      tokens = Math.min(this.#o.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#o.perSecond);
      this.#buckets.delete(key); // re-inserted below: the map's order is least recently used first
    } else if (this.#buckets.size >= this.#o.maxKeys) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done !== true) this.#buckets.delete(oldest.value);
    }
    const allowed = tokens >= 1;
    this.#buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now });
    return allowed;
  }

  get size(): number {
    return this.#buckets.size;
  }
}
