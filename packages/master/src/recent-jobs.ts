import { jidTime } from '@phoenix/protocol';
import type { JobRecord } from '@phoenix/store';

/** A job as it travels to minions and between masters. */
export interface DispatchedJob {
  jid: string;
  fun: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  expected: string[];
  /** Expected minions connected to no master when it was sent: nothing waits for them, nothing is sent later. */
  notConnected?: string[];
  timeoutMs?: number;
  splayMs?: number;
}

/**
 * How far before its last read the next read of the table starts: a job is stored a moment after
 * its jid is made (seconds on a loaded master), and the read is by jid time.
 */
export const TABLE_READ_LAG_MS = 30_000;

/** Jobs kept at most (the oldest go first): a bound on memory whatever the rate of jobs. */
const MAX_JOBS = 10_000;

interface Owed {
  readonly job: DispatchedJob;
  /** Until when a minion that connects is still sent it: its creation plus its timeout. */
  readonly until: number;
  readonly expected: ReadonlySet<string>;
  readonly notConnected: ReadonlySet<string>;
}

export interface RecentJobsOptions {
  /** A job older than this is never sent again, whatever its timeout. */
  windowMs: number;
  /** The timeout of a job that names none (the API's default). */
  defaultTimeoutMs: number;
  /** The jobs table: every job created since a time (a master that froze may have stored some). */
  listSince(fromMs: number, now: number): Promise<readonly JobRecord[]>;
  /** The table is read at most this often: minions that connect together share a read. Default 1000 ms. */
  tableEveryMs?: number;
  now?: () => number;
}

/**
 * The jobs of the last window that a minion connecting to this master may be owed: those this
 * master sent or was forwarded (in memory) and those in the jobs table (a job stored by a master
 * that died before it forwarded it). `owedTo` says which of them a minion has not seen, so a job
 * published into a dying master still reaches every minion it targeted, once: the minion names the
 * jobs it has seen, and de-duplicates by jid whatever arrives twice.
 */
export class RecentJobs {
  readonly #o: RecentJobsOptions;
  readonly #now: () => number;
  readonly #tableEveryMs: number;
  /** By jid, oldest first (a Map iterates in insertion order; jobs arrive roughly in jid order). */
  readonly #jobs = new Map<string, Owed>();
  #table: { at: number; read: Promise<void> } | undefined;
  /** When the last read that succeeded started: the next reads only what was created since (less the lag). */
  #readFrom: number | undefined;
  #prunedAt = Number.NEGATIVE_INFINITY;

  constructor(options: RecentJobsOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#tableEveryMs = options.tableEveryMs ?? 1_000;
  }

  /** A job this master sent, or was forwarded; `expected` as a set, when the caller holds one already. */
  note(job: DispatchedJob, expected: ReadonlySet<string> = new Set(job.expected)): void {
    const known = this.#jobs.get(job.jid);
    // The table's copy says who was not connected; a peer's forward may not have.
    if (known !== undefined && (known.notConnected.size > 0 || job.notConnected === undefined)) return;
    const createdAt = jidTime(job.jid).getTime();
    const until = createdAt + Math.min(job.timeoutMs ?? this.#o.defaultTimeoutMs, this.#o.windowMs);
    this.#prune();
    if (until <= this.#now()) return;
    this.#jobs.delete(job.jid);
    this.#jobs.set(job.jid, {
      job,
      until,
      expected,
      notConnected: new Set(job.notConnected ?? []),
    });
  }

  get(jid: string): DispatchedJob | undefined {
    return this.#jobs.get(jid)?.job;
  }

  /** The jobs still within their time that targeted `minionId` and that it has not seen, oldest first. */
  async owedTo(minionId: string, seen: ReadonlySet<string>): Promise<DispatchedJob[]> {
    await this.#readTable();
    return this.owedNow(minionId, seen);
  }

  /** What `owedTo` would say from memory alone: no wait for the table. */
  owedNow(minionId: string, seen: ReadonlySet<string>): DispatchedJob[] {
    this.#prune();
    const now = this.#now();
    const owed: DispatchedJob[] = [];
    for (const { job, until, expected, notConnected } of this.#jobs.values()) {
      if (until <= now || seen.has(job.jid) || !expected.has(minionId) || notConnected.has(minionId)) continue;
      owed.push(job);
    }
    return owed;
  }

  /**
   * One table read for every minion that connects within `tableEveryMs` of it: the whole window
   * the first time, then what was created since the last read (jobs already read are in memory).
   */
  #readTable(): Promise<void> {
    const now = this.#now();
    if (this.#table !== undefined && now - this.#table.at < this.#tableEveryMs) return this.#table.read;
    const from = Math.max(now - this.#o.windowMs, (this.#readFrom ?? -Infinity) - TABLE_READ_LAG_MS);
    const read = this.#o.listSince(from, now).then((records) => {
      for (const record of records) this.note(dispatchedFrom(record));
      this.#readFrom = Math.max(this.#readFrom ?? -Infinity, now);
    });
    this.#table = { at: now, read: read.catch(() => undefined) };
    return read;
  }

  /** Drops what is past its time (at most once a second), and the oldest beyond MAX_JOBS. */
  #prune(): void {
    const now = this.#now();
    if (now - this.#prunedAt >= 1_000) {
      this.#prunedAt = now;
      for (const [jid, owed] of this.#jobs) if (owed.until <= now) this.#jobs.delete(jid);
    }
    for (const jid of this.#jobs.keys()) {
      if (this.#jobs.size < MAX_JOBS) break;
      this.#jobs.delete(jid);
    }
  }
}

export function dispatchedFrom(record: JobRecord): DispatchedJob {
  return {
    jid: record.jid,
    fun: record.fun,
    args: record.args,
    kwargs: record.kwargs,
    expected: record.expected,
    ...(record.notConnected === undefined ? {} : { notConnected: record.notConnected }),
    ...(record.timeoutMs === undefined ? {} : { timeoutMs: record.timeoutMs }),
    ...(record.splayMs === undefined ? {} : { splayMs: record.splayMs }),
  };
}
