/** Minions remembered as between masters at once (see `disconnected`). */
const MAX_LEAVING = 100_000;

export interface PresenceOptions {
  /** This master's id. */
  masterId: string;
  /** Whether a session with the minion is open on this master. */
  connectedHere: (minionId: string) => boolean;
  liveMasters: () => ReadonlySet<string>;
  /** When a master turned dead, if it did. */
  deadSince: (masterId: string) => number | undefined;
  /**
   * How long a minion counts as connected after it said goodbye to a master, or after the master
   * it was on died: it is on its way to another one, where a job sent meanwhile reaches it.
   */
  transitMs: number;
}

interface Whereabouts {
  masterId: string;
  /** The minion's own time of the hello that put it there (see `connected`). */
  helloAt?: number;
  /**
   * Read from the table at this master's start, and not heard of since: rows go stale when a
   * master dies (nobody clears them), so any peer's list of its minions is newer.
   */
  fromTable?: true;
}

/**
 * Which master each minion is on, as far as this master knows: its own sessions, the cluster's
 * connect and disconnect events, the lists of minions peers send when a link is made, and the
 * minions table. It decides whether a job can reach a minion or must call it connected nowhere.
 */
export class Presence {
  readonly #o: PresenceOptions;
  readonly #where = new Map<string, Whereabouts>();
  /** Minions that said goodbye to a master and have not said hello to another yet: until when they count as connected. */
  readonly #leaving = new Map<string, number>();

  constructor(options: PresenceOptions) {
    this.#o = options;
  }

  /**
   * A minion said hello to `masterId` (this one or a peer). `helloAt`, the minion's own time of
   * that hello, orders its hellos: the events of two masters can cross, and a move's hello to the
   * new master heard before the old master's (late, from a busy master) would otherwise be
   * overwritten by it, then taken back by the old master's goodbye, leaving the minion connected
   * nowhere here while it is on the new master. A minion increases it with every hello.
   */
  connected(minionId: string, masterId: string, helloAt?: number): void {
    const known = this.#where.get(minionId);
    if (helloAt !== undefined && known?.helloAt !== undefined && helloAt < known.helloAt) return;
    this.#where.set(minionId, { masterId, ...(helloAt === undefined ? {} : { helloAt }) });
    this.#leaving.delete(minionId);
  }

  /**
   * A peer's list of the minions connected to it: fills in what this master does not know of a
   * peer, and replaces what it believes of itself (sessions it held before a freeze may be stale,
   * and their end must not leave the minion connected nowhere here), and what the table said at
   * this master's start: a row still naming a master killed as this one started, whose minions
   * went to a peer before the peer's link to this master was up, made a restart storm's new
   * master call up to 156 of 1,000 minions connected nowhere, and skip them. What a peer's own
   * events said is newer than any list and stays.
   */
  listedBy(minionId: string, masterId: string): void {
    const known = this.#where.get(minionId);
    if (known !== undefined && known.masterId !== this.#o.masterId && known.fromTable !== true) return;
    this.connected(minionId, masterId);
  }

  /** The minions table names the master a minion is on: taken where nothing newer is known. */
  readFromTable(minionId: string, masterId: string): void {
    if (this.#where.has(minionId)) return;
    this.#where.set(minionId, { masterId, fromTable: true });
  }

  /**
   * A minion left `masterId`; a later connection elsewhere is kept (the events may cross). One
   * that said goodbye (`left`) is on its way to another master: it counts as connected for the
   * transit time, unless it says hello somewhere first.
   */
  disconnected(minionId: string, masterId: string, left: boolean, now: number): void {
    if (this.#where.get(minionId)?.masterId !== masterId) return;
    this.#where.delete(minionId);
    if (!left || this.#o.transitMs <= 0) return;
    this.#leaving.delete(minionId);
    this.#leaving.set(minionId, now + this.#o.transitMs);
    // Oldest first (insertion order): the expired ones, then any beyond the bound.
    for (const [id, until] of this.#leaving) {
      if (this.#leaving.size <= MAX_LEAVING && until > now) break;
      this.#leaving.delete(id);
    }
  }

  /**
   * Connected here, or to a live peer as far as presence says, or between masters: within the
   * transit time of a goodbye, or of the death of the master it was on (a job sent now reaches it
   * at its hello).
   */
  isConnected(minionId: string, now: number): boolean {
    if (this.#o.connectedHere(minionId)) return true;
    const master = this.#where.get(minionId)?.masterId;
    if (master !== undefined && master !== this.#o.masterId) {
      if (this.#o.liveMasters().has(master)) return true;
      const deadSince = this.#o.deadSince(master);
      if (deadSince !== undefined && now < deadSince + this.#o.transitMs) return true;
    }
    const until = this.#leaving.get(minionId);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#leaving.delete(minionId);
    return false;
  }
}
