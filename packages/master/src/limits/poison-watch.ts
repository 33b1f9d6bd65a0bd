import type { Logger } from 'pino';

export interface PoisonWatchOptions {
  /** Strikes (refused messages) within `windowMs`, over every master, that quarantine a minion. */
  readonly after: number;
  readonly windowMs: number;
  /** Adds strikes to the minion's cluster-wide count; the count of the window now (undefined: no accepted key). */
  readonly addStrikes: (minionId: string, count: number, windowMs: number) => Promise<number | undefined>;
  /** Quarantines the minion's key; false when someone else did first or it is not accepted. */
  readonly quarantine: (minionId: string, reason: string) => Promise<boolean>;
  readonly log: Logger;
}

/**
 * Watches for minions that keep sending what this master must refuse (messages over a limit, not
 * msgpack, not valid, badly sealed, replayed). Each refusal is a strike on the minion's row, so the
 * count is the cluster's and moving to another master does not reset it; at `after` strikes in a
 * window the key is quarantined. One write per minion is in flight at a time, and strikes that
 * arrive meanwhile go in the next: a flood of poison costs a few writes, not one per message.
 */
export class PoisonWatch {
  readonly #o: PoisonWatchOptions;
  readonly #unwritten = new Map<string, { count: number; reason: string }>();
  readonly #writing = new Set<string>();

  constructor(options: PoisonWatchOptions) {
    this.#o = options;
  }

  strike(minionId: string, reason: string): void {
    const held = this.#unwritten.get(minionId);
    this.#unwritten.set(minionId, { count: (held?.count ?? 0) + 1, reason });
    if (!this.#writing.has(minionId)) void this.#write(minionId);
  }

  /** Strikes not yet written, over all minions (for tests and shutdown). */
  get unwritten(): number {
    let count = 0;
    for (const held of this.#unwritten.values()) count += held.count;
    return count;
  }

  async #write(minionId: string): Promise<void> {
    this.#writing.add(minionId);
    try {
      for (let held = this.#unwritten.get(minionId); held !== undefined; held = this.#unwritten.get(minionId)) {
        this.#unwritten.delete(minionId);
        const total = await this.#o.addStrikes(minionId, held.count, this.#o.windowMs);
        if (total === undefined) {
          this.#unwritten.delete(minionId); // no accepted key (any more): nothing to hold
          return;
        }
        if (total >= this.#o.after) {
          const reason = `${total} refused messages within ${Math.round(this.#o.windowMs / 1000)} s (last: ${held.reason})`;
          await this.#o.quarantine(minionId, reason);
          this.#unwritten.delete(minionId);
          return;
        }
      }
    } catch (err) {
      this.#o.log.warn({ err, minionId }, 'could not record refused messages of a minion');
    } finally {
      this.#writing.delete(minionId);
    }
  }
}
