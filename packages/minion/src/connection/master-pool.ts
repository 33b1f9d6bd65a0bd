import type { MasterAddress } from './master-address.js';

/** Time as a parameter: the pool reads the clock only through this (and sets no timer). */
export interface PoolClock {
  now(): number;
}

export interface MasterPoolOptions {
  /**
   * A master better placed than the current one must have been listed, and not have failed this
   * minion, this long before the minion moves to it; a master that failed this minion is passed
   * over this long while another listed master has not failed.
   */
  settleMs: number;
  /** Moves back are spread at random over this window, so a fleet does not move at once. */
  spreadMs: number;
  /** After a connected master was lost, the next try waits a random share of this (default 0). */
  reconnectSpreadMs?: number;
  /** The longest wait between rounds once every listed master has failed. */
  backoffMaxMs: number;
  /** The first such wait (it doubles each round, up to backoffMaxMs); default 100 ms. */
  backoffBaseMs?: number;
  /**
   * After a move that got no welcome in time (the current master still serving), the next try
   * waits a jittered share (half to all) of this; it doubles per failed move, up to moveRetryMaxMs.
   * Default 500 ms.
   */
  moveRetryBaseMs?: number;
  /** The longest wait between tries of a move that gets no welcome; default 5 s. */
  moveRetryMaxMs?: number;
  /** Once every listed master has failed, the masters table is worth a read at most this often; default 10 s. */
  tableReadEveryMs?: number;
  clock?: PoolClock;
  /** [0, 1), like Math.random (the default): jitter of waits and moves. */
  random?: () => number;
}

/** What to do next: which master to try, after how long. */
export interface PoolChoice {
  /** Undefined when no master is listed. */
  readonly master: MasterAddress | undefined;
  /** Wait this long before trying (0: at once). */
  readonly waitMs: number;
}

/** Where the connected master stands in the order. */
export type Placement =
  | { readonly action: 'stay' }
  /** The master is no longer listed: leave it now. */
  | { readonly action: 'leave' }
  /** A better master is (or will be) settled: move to it in `inMs` (0: now), asking again then. */
  | { readonly action: 'move'; readonly to: MasterAddress; readonly inMs: number };

interface Standing {
  /** Since when the master has been listed without a break. */
  readonly listedSince: number;
  /** When it last failed this minion (a connection that could not be made or was lost). */
  failedAt?: number;
  /** The random share of spreadMs for a move to it, drawn once per healthy spell (`jitterFor`). */
  jitter?: number;
  jitterFor?: number;
  /** Moves to it in a row that got no welcome in time, and when the next may be tried. */
  moveFailures?: number;
  retryAt?: number;
}

/**
 * One minion's failover policy, with no socket and no timer of its own: which master to try next,
 * how long to wait, when the masters table is worth a read, and when to move back to a better
 * master. The connection tells it what happened (`setOrder`, `connected`, `failed`, `avoid`) and
 * does what it says.
 *
 * - After a failure the next listed master that has not failed within `settleMs` is tried at once;
 *   only when every listed master has failed does the minion wait (backoff with jitter, growing per
 *   round) and ask for a masters-table read.
 * - A master that left the list and came back starts afresh: it is as healthy as its return.
 * - Moving back: a master placed before the current one is due once it has been listed, without
 *   failing this minion, for `settleMs` plus its jitter. A move asked too early (the master failed
 *   again meanwhile) is not dropped: the placement says when to ask next.
 * - A move that got no welcome in time (`moveFailed`: the master is listed and takes connections,
 *   but is busy or not itself yet after a freeze) is not a failure of the master: the minion was
 *   served all along, so the next try comes after a short backoff (jittered, doubling, bounded by
 *   `moveRetryMaxMs`), not after another settle time. A master that failed this minion (`failed`,
 *   `lost`) settles afresh.
 */
export class MasterPool {
  readonly #settleMs: number;
  readonly #spreadMs: number;
  readonly #reconnectSpreadMs: number;
  readonly #backoffMaxMs: number;
  readonly #backoffBaseMs: number;
  readonly #moveRetryBaseMs: number;
  readonly #moveRetryMaxMs: number;
  readonly #tableReadEveryMs: number;
  readonly #clock: PoolClock;
  readonly #random: () => number;
  #order: readonly MasterAddress[] = [];
  readonly #standing = new Map<string, Standing>();
  /** A master being left on purpose (draining): passed over while it is listed and another is. */
  #avoid: string | undefined;
  /** Rounds in which every listed master failed, since the last connection. */
  #rounds = 0;
  #waitUntil = 0;
  /** Set when a connected master was lost: no master is tried before this (the reconnect spread). */
  #spreadUntil = 0;
  #tableReadDue = false;
  #lastTableRead = Number.NEGATIVE_INFINITY;

  constructor(options: MasterPoolOptions) {
    this.#settleMs = options.settleMs;
    this.#spreadMs = options.spreadMs;
    this.#reconnectSpreadMs = options.reconnectSpreadMs ?? 0;
    this.#backoffMaxMs = options.backoffMaxMs;
    this.#backoffBaseMs = options.backoffBaseMs ?? 100;
    this.#moveRetryBaseMs = options.moveRetryBaseMs ?? 500;
    this.#moveRetryMaxMs = Math.max(this.#moveRetryBaseMs, options.moveRetryMaxMs ?? 5_000);
    this.#tableReadEveryMs = options.tableReadEveryMs ?? 10_000;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#random = options.random ?? Math.random;
  }

  /** The masters in failover order, as the master-list manager holds them now. Idempotent. */
  setOrder(order: readonly MasterAddress[]): void {
    const now = this.#clock.now();
    const listed = new Set<string>();
    for (const master of order) {
      const key = keyOf(master);
      listed.add(key);
      if (!this.#standing.has(key)) this.#standing.set(key, { listedSince: now });
    }
    // A master that left the list is forgotten: if it comes back, it counts from its return.
    for (const key of this.#standing.keys()) if (!listed.has(key)) this.#standing.delete(key);
    if (this.#avoid !== undefined && !listed.has(this.#avoid)) this.#avoid = undefined;
    this.#order = order;
  }

  get order(): readonly MasterAddress[] {
    return this.#order;
  }

  /** The master to try now, or after `waitMs`. */
  next(): PoolChoice {
    const now = this.#clock.now();
    const candidates = this.#candidates();
    const fresh = candidates.find((m) => !this.#suspect(m, now));
    const spread = Math.max(0, this.#spreadUntil - now);
    if (fresh !== undefined) return { master: fresh, waitMs: spread };
    // Every listed master failed lately (or none is listed): the one that failed longest ago, after a wait.
    const oldest = [...candidates].sort((a, b) => this.#failedAt(a) - this.#failedAt(b))[0];
    return { master: oldest, waitMs: Math.max(spread, this.#waitUntil - now) };
  }

  /** A connection to `master` was made (a welcome arrived). */
  connected(master: MasterAddress): void {
    this.#rounds = 0;
    this.#waitUntil = 0;
    this.#spreadUntil = 0;
    this.#tableReadDue = false;
    const standing = this.#standing.get(keyOf(master));
    if (standing !== undefined) {
      delete standing.failedAt;
      delete standing.moveFailures;
      delete standing.retryAt;
    }
  }

  /** A connection to `master` could not be made, or was lost: it settles afresh (see `placement`). */
  failed(master: MasterAddress): void {
    const now = this.#clock.now();
    const standing = this.#standing.get(keyOf(master));
    if (standing !== undefined) {
      standing.failedAt = now;
      // The settle time it must now serve is longer than any move backoff, which starts over after it.
      delete standing.moveFailures;
      delete standing.retryAt;
    }
    // A round is over once every listed master failed: wait before the next, and read the table.
    if (!this.#candidates().some((m) => !this.#suspect(m, now))) this.#endRound(now);
  }

  /**
   * A connection to `master` that was made has been lost (it died, froze or cut this minion off):
   * as `failed`, and the next try waits a random share of `reconnectSpreadMs`, drawn once.
   */
  lost(master: MasterAddress): void {
    this.failed(master);
    const now = this.#clock.now();
    this.#spreadUntil = now + this.#draw() * this.#reconnectSpreadMs;
  }

  /**
   * A move to `master` got no welcome in time while the current master went on serving (see the
   * class comment): the next try is due after a jittered backoff that grows with each such move,
   * up to `moveRetryMaxMs`; its settle time, and whether `next()` would try it, are unchanged.
   */
  moveFailed(master: MasterAddress): void {
    const standing = this.#standing.get(keyOf(master));
    if (standing === undefined) return;
    const failures = (standing.moveFailures ?? 0) + 1;
    standing.moveFailures = failures;
    standing.retryAt = this.#clock.now() + this.#backoff(this.#moveRetryBaseMs, this.#moveRetryMaxMs, failures);
  }

  /** No master is listed at all: a round with nothing to try (the wait it sets is `next().waitMs`). */
  nothingListed(): void {
    const now = this.#clock.now();
    if (this.#order.length === 0 && now >= this.#waitUntil) this.#endRound(now);
  }

  /**
   * True once each time every listed master has failed (and the last read is `tableReadEveryMs`
   * old): the pushed list is exhausted, so the masters table may know better.
   */
  takeTableRead(): boolean {
    if (!this.#tableReadDue) return false;
    this.#tableReadDue = false;
    this.#lastTableRead = this.#clock.now();
    return true;
  }

  /** Passes `master` over while it is listed and another master is (it is draining). */
  avoid(master: MasterAddress): void {
    this.#avoid = keyOf(master);
  }

  /** Whether to stay on `current`, leave it, or move to a better master (now or later). */
  placement(current: MasterAddress): Placement {
    const at = this.#order.findIndex((m) => sameEndpoint(m, current));
    if (at < 0) return { action: 'leave' };
    const now = this.#clock.now();
    let best: { to: MasterAddress; at: number } | undefined;
    for (const master of this.#order.slice(0, at)) {
      if (keyOf(master) === this.#avoid) continue;
      const due = this.#dueAt(master);
      if (due <= now) return { action: 'move', to: master, inMs: 0 };
      if (best === undefined || due < best.at) best = { to: master, at: due };
    }
    return best === undefined ? { action: 'stay' } : { action: 'move', to: best.to, inMs: best.at - now };
  }

  #endRound(now: number): void {
    this.#rounds++;
    this.#waitUntil = now + this.#backoff(this.#backoffBaseMs, this.#backoffMaxMs, this.#rounds);
    if (now - this.#lastTableRead >= this.#tableReadEveryMs) this.#tableReadDue = true;
  }

  #candidates(): readonly MasterAddress[] {
    const others = this.#order.filter((m) => keyOf(m) !== this.#avoid);
    return others.length > 0 ? others : this.#order;
  }

  #suspect(master: MasterAddress, now: number): boolean {
    const failedAt = this.#standing.get(keyOf(master))?.failedAt;
    return failedAt !== undefined && now - failedAt < this.#settleMs;
  }

  #failedAt(master: MasterAddress): number {
    return this.#standing.get(keyOf(master))?.failedAt ?? Number.NEGATIVE_INFINITY;
  }

  /**
   * When a move to `master` is due: settled (listed and not failing) for settleMs, plus its jitter,
   * and not before the backoff of a move that got no welcome.
   */
  #dueAt(master: MasterAddress): number {
    const standing = this.#standing.get(keyOf(master));
    if (standing === undefined) return Number.POSITIVE_INFINITY;
    const healthySince = Math.max(standing.listedSince, standing.failedAt ?? Number.NEGATIVE_INFINITY);
    if (standing.jitterFor !== healthySince) {
      standing.jitter = this.#draw() * this.#spreadMs;
      standing.jitterFor = healthySince;
    }
    const settled = healthySince + this.#settleMs + (standing.jitter ?? 0);
    return Math.max(settled, standing.retryAt ?? Number.NEGATIVE_INFINITY);
  }

  /** The wait after the `attempt`th failure in a row: half to all of base doubling per attempt, up to max. */
  #backoff(baseMs: number, maxMs: number, attempt: number): number {
    const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 16));
    return ceiling / 2 + this.#draw() * (ceiling / 2);
  }

  #draw(): number {
    const r = this.#random();
    return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5;
  }
}

/** A master as the pool tells it apart: its id and endpoint (a master back on new ports is new). */
function keyOf(master: MasterAddress): string {
  return `${master.id ?? ''}@${master.host}:${master.port}`;
}

export function sameEndpoint(a: MasterAddress, b: MasterAddress): boolean {
  return a.host === b.host && a.port === b.port;
}
