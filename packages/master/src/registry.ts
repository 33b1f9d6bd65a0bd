import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '@phoenix/protocol';
import { isLive, type MasterRecord, type MasterStatus, type NewMaster, type Store } from '@phoenix/store';

export type MasterLiveness = 'starting' | 'live' | 'draining' | 'dead';

export interface MasterView extends MasterRecord {
  liveness: MasterLiveness;
}

/**
 * This master's row in the masters table and its view of the others. The row is rewritten every
 * heartbeat; every reader, here and on minions, counts a master whose heartbeat is older than
 * `deadAfterMs` as dead whatever its status says, so a crashed or frozen master drops out of every
 * list without waiting for anyone to delete its row.
 */
export class MasterRegistry {
  readonly #store: Store;
  #row: Omit<NewMaster, 'heartbeatAt' | 'minionCount' | 'status'> | undefined;
  readonly #minionCount: () => number;
  readonly #heartbeatMs: number;
  readonly #deadAfterMs: number;
  readonly #heardFrom: (masterId: string) => number | undefined;
  readonly #log: Logger;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #changes = new EventEmitter<{
    change: [readonly MasterRecord[]];
    refresh: [readonly MasterRecord[]];
  }>().setMaxListeners(0);
  #status: MasterStatus;
  #treeHash: string | undefined;
  #fileServer: { gitCommits: Record<string, string>; fileServerErrors: string[] } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #known: MasterRecord[] = [];
  /**
   * By master: the heartbeat time last read, and when (on this master's clock, at the start of
   * that read) it was first seen to have moved on.
   */
  readonly #progress = new Map<string, { heartbeatAt: number; advancedAt: number }>();
  #liveKey = '';
  #announced: readonly MasterRecord[] = [];

  constructor(options: {
    store: Store;
    minionCount: () => number;
    heartbeatMs: number;
    deadAfterMs: number;
    log: Logger;
    /** `starting` for a master that must fetch its git trees before it takes minions. */
    status?: MasterStatus;
    /** When a peer master was last heard from directly (the peer mesh), if ever. */
    heardFrom?: (masterId: string) => number | undefined;
    clock?: Pick<Clock, 'now'>;
  }) {
    this.#clock = options.clock ?? systemClock;
    this.#heardFrom = options.heardFrom ?? (() => undefined);
    this.#status = options.status ?? 'active';
    this.#store = options.store;
    this.#minionCount = options.minionCount;
    this.#heartbeatMs = options.heartbeatMs;
    this.#deadAfterMs = options.deadAfterMs;
    this.#log = options.log;
  }

  /** Writes this master's row (its ports are known once its sockets are bound) and starts heartbeating. */
  async start(row: Omit<NewMaster, 'heartbeatAt' | 'minionCount' | 'status'>): Promise<void> {
    this.#row = row;
    await this.#write();
    await this.refresh();
    this.#timer = setInterval(() => void this.#tick(), this.#heartbeatMs);
  }

  /** Hears the live masters (this one included) whenever the set or a status changes. */
  onChange(listener: (live: readonly MasterRecord[]) => void): () => void {
    this.#changes.on('change', listener);
    return () => void this.#changes.off('change', listener);
  }

  /** Hears every read of the table (each heartbeat): the rows, dead ones included. */
  onRefresh(listener: (rows: readonly MasterRecord[]) => void): () => void {
    this.#changes.on('refresh', listener);
    return () => void this.#changes.off('refresh', listener);
  }

  /**
   * The live masters as the last change announced them (`onChange`): what minions are told. A list
   * judged on the clock between two reads of the table could leave out a master that the next read
   * finds alive again, and as nothing changed then, nothing would tell the minion.
   */
  announced(): readonly MasterRecord[] {
    return this.#announced;
  }

  /**
   * Live masters, active ones first, then draining ones (starting ones too: minions are never sent
   * those), as this master judges them (see #judged): a busy table must not make a master push its
   * minions a list without itself or without a peer that runs (they would leave a master that
   * serves them, to pile onto the others).
   */
  live(now = this.#clock.now()): MasterRecord[] {
    return this.#known
      .map((master) => this.#judged(master, now))
      .filter((master) => isLive(master, this.#deadAfterMs, now))
      .sort(
        (a, b) =>
          Number(a.status === 'draining') - Number(b.status === 'draining') || a.masterId.localeCompare(b.masterId),
      );
  }

  /**
   * When a master this one knows of turned dead (its last heartbeat plus deadAfter), as of the last
   * read of the table; undefined for a live master or one not in the table.
   */
  deadSince(masterId: string, now = this.#clock.now()): number | undefined {
    const known = this.#known.find((master) => master.masterId === masterId);
    if (known === undefined) return undefined;
    const row = this.#judged(known, now);
    if (isLive(row, this.#deadAfterMs, now)) return undefined;
    return row.heartbeatAt + this.#deadAfterMs;
  }

  /**
   * A row as this master judges it: its own row is as fresh as now (it runs); another master's
   * heartbeat counts from when this master saw it move on, or last heard from that master over
   * the peer mesh, if that is later than the time in it.
   * A heartbeat write that took seconds to land (a busy table, a loaded machine) still shows the
   * writer alive: what kills a master is that its heartbeat stops moving, not that it is late.
   */
  #judged(master: MasterRecord, now: number): MasterRecord {
    if (master.masterId === this.#row?.masterId) return { ...master, heartbeatAt: Math.max(master.heartbeatAt, now) };
    const seen = Math.max(
      this.#progress.get(master.masterId)?.advancedAt ?? Number.NEGATIVE_INFINITY,
      this.#heardFrom(master.masterId) ?? Number.NEGATIVE_INFINITY,
    );
    return seen <= master.heartbeatAt ? master : { ...master, heartbeatAt: seen };
  }

  /** Notes whose heartbeat moved on since the last read (`readAt`: when this read started). */
  #noteProgress(rows: readonly MasterRecord[], readAt: number): void {
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.masterId);
      const before = this.#progress.get(row.masterId);
      if (before === undefined) {
        // First sight: only the time in the row counts (a row left by a master long dead is dead).
        this.#progress.set(row.masterId, { heartbeatAt: row.heartbeatAt, advancedAt: row.heartbeatAt });
      } else if (row.heartbeatAt > before.heartbeatAt) {
        this.#progress.set(row.masterId, {
          heartbeatAt: row.heartbeatAt,
          advancedAt: Math.max(readAt, row.heartbeatAt),
        });
      }
    }
    for (const id of this.#progress.keys()) if (!seen.has(id)) this.#progress.delete(id);
  }

  /** Whether the masters table, as last read, has a row for `masterId`. */
  knows(masterId: string): boolean {
    return this.#known.some((master) => master.masterId === masterId);
  }

  /** Every row in the table, with the liveness every reader would give it. */
  async all(now = this.#clock.now()): Promise<MasterView[]> {
    const rows = await this.#store.masters.list();
    return rows
      .map((row) => ({ ...row, liveness: liveness(this.#judged(row, now), this.#deadAfterMs, now) }))
      .sort((a, b) => a.masterId.localeCompare(b.masterId));
  }

  /** The state tree's content hash, written with the next heartbeat. */
  setTreeHash(hash: string): void {
    this.#treeHash = hash;
  }

  /** The commits of the git trees this master serves and their errors, written with the next heartbeat. */
  setFileServer(state: { gitCommits: Record<string, string>; fileServerErrors: string[] }): void {
    const changed = JSON.stringify(state) !== JSON.stringify(this.#fileServer);
    this.#fileServer = state;
    // A new commit is told at once: the others fetch it on reading it, and the operator sees it.
    if (changed && this.#row !== undefined && this.#timer !== undefined) void this.#tick();
  }

  get status(): MasterStatus {
    return this.#status;
  }

  async setStatus(status: MasterStatus): Promise<void> {
    this.#status = status;
    await this.#write();
  }

  async refresh(): Promise<void> {
    const readAt = this.#clock.now();
    this.#known = await this.#store.masters.list();
    this.#noteProgress(this.#known, readAt);
    this.#changes.emit('refresh', this.#known);
    const live = this.live();
    const key = live.map((m) => `${m.masterId}/${m.status}/${m.host}/${m.ports.minion}`).join(',');
    if (key === this.#liveKey) return;
    this.#liveKey = key;
    this.#announced = live;
    this.#log.info({ masters: live.map((m) => `${m.masterId}:${m.status}`) }, 'live masters changed');
    this.#changes.emit('change', live);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#row) await this.#store.masters.delete(this.#row.masterId).catch(() => undefined);
  }

  async #tick(): Promise<void> {
    if (this.#row === undefined) return;
    try {
      // The status is only ever set to draining here: a draining mark the reactor wrote stays.
      await this.#store.masters.heartbeat(
        this.#row.masterId,
        {
          minionCount: this.#minionCount(),
          ...(this.#status === 'draining' ? { status: this.#status } : {}),
          ...(this.#treeHash === undefined ? {} : { treeHash: this.#treeHash }),
          ...this.#fileServer,
        },
        this.#clock.now(),
      );
    } catch {
      // The row is gone (swept while this master was frozen, say): write it whole again.
      await this.#write().catch((err: unknown) => this.#log.warn({ err }, 'heartbeat failed'));
    }
    await this.refresh().catch((err: unknown) => this.#log.warn({ err }, 'could not read the masters table'));
  }

  async #write(): Promise<unknown> {
    if (this.#row === undefined) return;
    return this.#store.masters.put({
      ...this.#row,
      status: this.#status,
      ...(this.#treeHash === undefined ? {} : { treeHash: this.#treeHash }),
      ...this.#fileServer,
      heartbeatAt: this.#clock.now(),
      minionCount: this.#minionCount(),
    });
  }
}

function liveness(master: MasterRecord, deadAfterMs: number, now: number): MasterLiveness {
  if (!isLive(master, deadAfterMs, now)) return 'dead';
  return master.status === 'draining' ? 'draining' : master.status === 'starting' ? 'starting' : 'live';
}
