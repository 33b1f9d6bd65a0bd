import { systemClock, type Clock } from '@phoenix/protocol';
import type { JobSummary } from '@phoenix/store';
import type { Logger } from 'pino';

/** A return as the summary counts it. */
export interface HeardReturn {
  readonly jid: string;
  readonly minionId: string;
  readonly success: boolean;
  readonly ret: unknown;
  readonly receivedAt: number;
}

export interface JobSummariesOptions {
  /** Writes a job's summary on its row (JobsTable.recordSummary). */
  write(jid: string, summary: JobSummary): Promise<unknown>;
  /** A job's summary is written at most this often while its returns arrive (default 1000 ms). */
  everyMs?: number;
  clock?: Clock;
  log: Logger;
}

/** Jobs followed at once, at most: beyond it the oldest is written final with what it has. */
const MAX_FOLLOWED = 10_000;

interface Followed {
  readonly expected: ReadonlySet<string>;
  readonly returned: Set<string>;
  failed: number;
  lastReturnAt: number | undefined;
  /** A write waiting for its turn (at most one per `everyMs`). */
  timer: unknown;
  deadline: unknown;
  /** The write under way: the next waits for it, so the row never goes back. */
  writing: Promise<void>;
}

/**
 * Whether a return failed as a job's result counts it: the minion said so, or it is a state run
 * (Salt's `{ 'mod_|-id_|-name_|-fun': { result, … } }`) with a state whose result is false.
 */
export function returnFailed(success: boolean, ret: unknown): boolean {
  if (!success) return true;
  if (typeof ret !== 'object' || ret === null || Array.isArray(ret)) return false;
  const entries = Object.entries(ret as Record<string, unknown>);
  if (entries.length === 0) return false;
  const isState = ([tag, r]: [string, unknown]): boolean =>
    tag.includes('_|-') && typeof r === 'object' && r !== null && 'result' in r;
  if (!entries.every(isState)) return false;
  return entries.some(([, r]) => (r as { result: unknown }).result === false);
}

/**
 * The summaries of the jobs submitted on this master (returned, failed, last return), kept on each
 * job's row so a listing of jobs reads no returns: counted from the returns this master hears (its
 * own, and those its peers forward to it as the jobs' origin), written at most once per `everyMs`
 * while they arrive, and `final` once every expected minion returned or the job's time is up.
 */
export class JobSummaries {
  readonly #o: JobSummariesOptions;
  readonly #clock: Clock;
  readonly #everyMs: number;
  readonly #followed = new Map<string, Followed>();

  constructor(options: JobSummariesOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#everyMs = options.everyMs ?? 1_000;
  }

  /** Follows a job submitted here until every one of `expected` returned, or `forMs` passed. */
  follow(jid: string, expected: readonly string[], forMs: number): void {
    if (expected.length === 0 || this.#followed.has(jid)) return;
    const followed: Followed = {
      expected: new Set(expected),
      returned: new Set(),
      failed: 0,
      lastReturnAt: undefined,
      timer: undefined,
      deadline: undefined,
      writing: Promise.resolve(),
    };
    followed.deadline = this.#clock.setTimeout(() => this.#finish(jid), forMs);
    this.#followed.set(jid, followed);
    for (const oldest of this.#followed.keys()) {
      if (this.#followed.size <= MAX_FOLLOWED) break;
      this.#finish(oldest);
    }
  }

  /** A return of a job: counted once per minion, if the job is followed here. */
  heard(event: HeardReturn): void {
    const followed = this.#followed.get(event.jid);
    if (followed === undefined || !followed.expected.has(event.minionId) || followed.returned.has(event.minionId)) {
      return;
    }
    followed.returned.add(event.minionId);
    if (returnFailed(event.success, event.ret)) followed.failed++;
    followed.lastReturnAt = Math.max(followed.lastReturnAt ?? 0, event.receivedAt);
    if (followed.returned.size === followed.expected.size) {
      this.#finish(event.jid);
      return;
    }
    followed.timer ??= this.#clock.setTimeout(() => {
      followed.timer = undefined;
      this.#write(event.jid, followed, false);
    }, this.#everyMs);
  }

  /**
   * Writes what every followed job has so far, not final: returns that arrive after this master
   * stopped reach the table through other masters, so a listing reads them for such a job.
   */
  stop(): Promise<void> {
    const writes = [...this.#followed.keys()].map((jid) => this.#finish(jid, false));
    return Promise.all(writes).then(() => undefined);
  }

  #finish(jid: string, final = true): Promise<void> {
    const followed = this.#followed.get(jid);
    if (followed === undefined) return Promise.resolve();
    this.#followed.delete(jid);
    this.#clock.clearTimeout(followed.timer);
    this.#clock.clearTimeout(followed.deadline);
    return this.#write(jid, followed, final);
  }

  #write(jid: string, followed: Followed, final: boolean): Promise<void> {
    const summary: JobSummary = {
      returned: followed.returned.size,
      failed: followed.failed,
      ...(followed.lastReturnAt === undefined ? {} : { lastReturnAt: followed.lastReturnAt }),
      ...(final ? { final: true } : {}),
    };
    followed.writing = followed.writing
      .then(() => this.#o.write(jid, summary))
      .then(
        () => undefined,
        (err: unknown) => this.#o.log.warn({ err, jid }, "could not write the job's summary"),
      );
    return followed.writing;
  }
}
