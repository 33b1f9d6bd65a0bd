import type { Logger } from 'pino';
import {
  checkValue,
  compileTarget,
  DATA_LIMITS,
  disabledSkipReason,
  JidGenerator,
  skipsDisabledMinions,
  stateRunsDisabled,
  WIRE_VERSION,
  type TargetType,
} from '@phoenix/protocol';
import { ConditionFailedError, type JobRecord, type ReturnRecord, type Store } from '@phoenix/store';
import type { KeyRegistry } from './keys.js';
import { ReturnBatcher } from './return-batcher.js';
import type { MinionLink, MinionSession } from './minion-link.js';
import { MasterError, MasterErrorCodes } from './errors.js';
import type { Refusals } from './limits/refusals.js';

/**
 * A job's arguments travel in every job message and live in the jobs table as JSON text: bounded
 * in shape by DATA_LIMITS and in size by this (DynamoDB holds at most 400 KB an item).
 */
export const MAX_JOB_ARGUMENTS_BYTES = 256 * 1024;

export interface JobRequest {
  target: string | readonly string[];
  targetType: TargetType;
  fun: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  submitter: string;
  timeoutMs?: number;
  /** Each minion waits a random time up to this before running the job. */
  splayMs?: number;
  /** The schedule entry and tick that fired the job, when a schedule did. */
  schedule?: { name: string; tickAt: number };
}

/** A minion the target selected that the job was not sent to, and why. */
export interface SkippedMinion {
  minionId: string;
  reason: string;
}

/** A job as it travels to minions and between masters. */
export interface DispatchedJob {
  jid: string;
  fun: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  expected: string[];
  timeoutMs?: number;
  splayMs?: number;
}

export interface ReturnEvent {
  jid: string;
  minionId: string;
  success: boolean;
  retcode: number;
  ret: unknown;
  receivedAt: number;
}

/** What a master keeps of a recent job to check and announce its returns without a table read. */
interface JobFacts {
  readonly expected: ReadonlySet<string>;
  readonly origin: string;
  /** Minions whose return this master stored and announced. */
  readonly returned: Set<string>;
}

/**
 * Jobs on this master: expected minions come from the accepted keys and their cached grains, the
 * job is stored before anything is sent, and each return is stored (in batches) before its
 * acknowledgement goes back. Listeners of a jid hear every new return as it is stored.
 */
export class JobService {
  readonly #store: Store;
  readonly #keys: KeyRegistry;
  readonly #link: () => MinionLink;
  readonly #masterId: string;
  readonly #log: Logger;
  readonly #jids = new JidGenerator();
  readonly #grains = new Map<string, Readonly<Record<string, unknown>>>();
  readonly #listeners = new Map<string, Set<(event: ReturnEvent) => void>>();
  /** Expected minions of recent jobs, so a return can be checked without a table read. */
  readonly #recent = new Map<string, JobFacts>();
  readonly #returns: ReturnBatcher;
  /** Which master each minion connected elsewhere is on, as their connect and disconnect events said. */
  readonly #presence = new Map<string, string>();
  readonly #liveMasters: () => ReadonlySet<string>;
  /** Set by the master: how jobs and returns cross to the other masters. */
  hooks: { forwardJob(job: DispatchedJob): void; returnToOrigin(origin: string, event: ReturnEvent): void } = {
    forwardJob: () => undefined,
    returnToOrigin: () => undefined,
  };

  readonly #refusals: Refusals | undefined;

  constructor(
    store: Store,
    keys: KeyRegistry,
    link: () => MinionLink,
    masterId: string,
    log: Logger,
    liveMasters: () => ReadonlySet<string> = () => new Set(),
    refusals?: Refusals,
  ) {
    this.#liveMasters = liveMasters;
    this.#store = store;
    this.#refusals = refusals;
    this.#keys = keys;
    this.#link = link;
    this.#masterId = masterId;
    this.#log = log;
    this.#returns = new ReturnBatcher((rets) => store.returns.putMany(rets));
  }

  /** Loads the grains of every known minion, for grain targeting of minions connected elsewhere. */
  async loadGrains(): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.#store.minions.list({ limit: 1000, cursor });
      for (const record of page.items) {
        if (record.grains) this.#grains.set(record.minionId, record.grains);
        if (record.connectedMaster !== undefined) this.#presence.set(record.minionId, record.connectedMaster);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  rememberGrains(minionId: string, grains: Record<string, unknown>): void {
    this.#grains.set(minionId, Object.freeze({ ...grains }));
  }

  /** A minion said hello to `masterId` (this one or a peer: the cluster's `minion/connected` event). */
  notePresence(minionId: string, masterId: string): void {
    this.#presence.set(minionId, masterId);
  }

  /** A minion left `masterId`; a later connection elsewhere is kept (the events may cross). */
  noteAbsence(minionId: string, masterId: string): void {
    if (this.#presence.get(minionId) === masterId) this.#presence.delete(minionId);
  }

  /** Connected here, or to a live peer as far as presence says. */
  isConnected(minionId: string): boolean {
    if (this.#link().isConnected(minionId)) return true;
    const master = this.#presence.get(minionId);
    return master !== undefined && master !== this.#masterId && this.#liveMasters().has(master);
  }

  grainsOf(minionId: string): Readonly<Record<string, unknown>> {
    return this.#grains.get(minionId) ?? {};
  }

  /** The accepted minions a target selects (validates the target: a bad one is PHX_TARGET_INVALID). */
  expectedMinions(target: string | readonly string[], type: TargetType): string[] {
    const matcher = compileTarget(target, type);
    return this.#keys
      .acceptedIds()
      .filter((id) => matcher.matches({ id, grains: this.grainsOf(id) }))
      .sort();
  }

  /**
   * Splits the selected minions into those the job goes to and those it skips: a state run that
   * acts (not test=True) skips every minion whose grains say its state runs are disabled.
   */
  partitionDisabled(
    request: Pick<JobRequest, 'fun' | 'kwargs'>,
    selected: readonly string[],
  ): { expected: string[]; skipped: SkippedMinion[] } {
    if (!skipsDisabledMinions(request.fun, request.kwargs)) return { expected: [...selected], skipped: [] };
    const expected: string[] = [];
    const skipped: SkippedMinion[] = [];
    for (const minionId of selected) {
      const disabled = stateRunsDisabled(this.grainsOf(minionId));
      if (disabled === undefined) expected.push(minionId);
      else skipped.push({ minionId, reason: disabledSkipReason(disabled) });
    }
    return { expected, skipped };
  }

  /**
   * Stores and sends a job. When every selected minion is skipped the job is still stored (its
   * record says who was skipped and why) but nothing is sent.
   */
  async submit(request: JobRequest, now = Date.now()): Promise<JobRecord> {
    // First, before anything is stored or sent: a job that cannot travel is refused whole.
    this.#checkArguments(request);
    const selected = this.expectedMinions(request.target, request.targetType);
    if (selected.length === 0) {
      throw new MasterError(MasterErrorCodes.NO_MINIONS, 'no accepted minion matches the target; nothing was run', {
        details: { target: request.target, targetType: request.targetType },
      });
    }
    const { expected, skipped } = this.partitionDisabled(request, selected);
    // Said at once rather than waited for: a minion connected to no master cannot get the job.
    const notConnected = expected.filter((minionId) => !this.isConnected(minionId));
    const job = await this.#storeJob(request, expected, skipped, notConnected, now);
    // Audit: who ran what, where, when — one structured line per submission.
    this.#log.info(
      {
        audit: 'job',
        jid: job.jid,
        submitter: job.submitter,
        fun: job.fun,
        target: job.target,
        targetType: job.targetType,
        expected: expected.length,
        ...(skipped.length === 0 ? {} : { skipped }),
        ...(notConnected.length === 0 ? {} : { notConnected: notConnected.length }),
        ...(request.schedule === undefined ? {} : { schedule: request.schedule.name }),
      },
      'job submitted',
    );
    if (expected.length === 0) return job;
    const dispatched: DispatchedJob = {
      jid: job.jid,
      fun: job.fun,
      args: job.args,
      kwargs: job.kwargs,
      expected: job.expected,
      ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
      ...(request.splayMs === undefined || request.splayMs === 0 ? {} : { splayMs: request.splayMs }),
    };
    this.deliver(dispatched, this.#masterId);
    this.hooks.forwardJob(dispatched);
    return job;
  }

  /** PHX_INPUT_OVER_LIMIT when the arguments are nested too deep, too many, or too big for a job. */
  #checkArguments(request: Pick<JobRequest, 'args' | 'kwargs'>): void {
    const violation = checkValue(request.args, DATA_LIMITS) ?? checkValue(request.kwargs, DATA_LIMITS);
    let reason: string | undefined = violation?.reason;
    let message = violation?.message;
    if (violation === undefined) {
      const bytes = Buffer.byteLength(JSON.stringify(request.args)) + Buffer.byteLength(JSON.stringify(request.kwargs));
      if (bytes > MAX_JOB_ARGUMENTS_BYTES) {
        reason = 'oversized';
        message = `${bytes} bytes of arguments (the limit is ${MAX_JOB_ARGUMENTS_BYTES})`;
      }
    }
    if (reason === undefined) return;
    this.#refusals?.count('job', reason);
    throw new MasterError(MasterErrorCodes.OVER_LIMIT, `job arguments refused: ${message ?? reason}`, {
      details: { reason },
    });
  }

  async #storeJob(
    request: JobRequest,
    expected: string[],
    skipped: SkippedMinion[],
    notConnected: string[],
    now: number,
  ): Promise<JobRecord> {
    const target = typeof request.target === 'string' ? request.target : request.target.join(',');
    // Jids are minted by every master; a collision (same microsecond elsewhere) just takes the next one.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#store.jobs.put({
          jid: this.#jids.next(now),
          fun: request.fun,
          args: request.args,
          kwargs: request.kwargs,
          target,
          targetType: request.targetType,
          submitter: request.submitter,
          originMaster: this.#masterId,
          expected,
          ...(skipped.length === 0 ? {} : { skipped }),
          ...(notConnected.length === 0 ? {} : { notConnected }),
          ...(request.schedule === undefined ? {} : { schedule: request.schedule }),
          createdAt: now,
        });
      } catch (err) {
        if (!(err instanceof ConditionFailedError) || attempt >= 5) throw err;
      }
    }
  }

  /** Stores a minion's return once; the first copy is announced, re-sends after a failover are not. */
  async recordReturn(
    session: MinionSession,
    message: { jid: string; success: boolean; retcode: number; ret: unknown },
  ): Promise<void> {
    // A minion can only answer for itself, and only to jobs it was sent.
    const facts = await this.#jobFacts(message.jid);
    if (facts === undefined || !facts.expected.has(session.minionId)) {
      this.#log.warn(
        { jid: message.jid, minionId: session.minionId },
        'refused a return for a job this minion was not sent',
      );
      return;
    }
    const receivedAt = Date.now();
    await this.#returns.store({
      jid: message.jid,
      minionId: session.minionId,
      success: message.success,
      retcode: message.retcode,
      ret: message.ret,
      masterId: this.#masterId,
      receivedAt,
    });
    // A copy re-sent after a failover is stored again (the same row) but announced only once here.
    if (facts.returned.has(session.minionId)) return;
    facts.returned.add(session.minionId);
    const event: ReturnEvent = {
      jid: message.jid,
      minionId: session.minionId,
      success: message.success,
      retcode: message.retcode,
      ret: message.ret,
      receivedAt,
    };
    this.announce(event);
    if (facts.origin !== this.#masterId) this.hooks.returnToOrigin(facts.origin, event);
  }

  async #jobFacts(jid: string): Promise<JobFacts | undefined> {
    const known = this.#recent.get(jid);
    if (known !== undefined) return known;
    const job = await this.#store.jobs.get(jid);
    return job === undefined ? undefined : this.#remember(job.jid, job.expected, job.originMaster);
  }

  #remember(jid: string, expected: readonly string[], origin: string): JobFacts {
    const known = this.#recent.get(jid);
    if (known !== undefined) return known;
    const facts: JobFacts = { expected: new Set(expected), origin, returned: new Set() };
    this.#recent.set(jid, facts);
    // Bounded: the oldest entries go first (a Map iterates in insertion order).
    for (const old of this.#recent.keys()) {
      if (this.#recent.size <= 10_000) break;
      this.#recent.delete(old);
    }
    return facts;
  }

  /**
   * Sends a job to the targeted minions connected to this master: its own jobs, and jobs forwarded
   * by the master they were submitted on.
   */
  deliver(job: DispatchedJob, origin: string): number {
    this.#remember(job.jid, job.expected, origin);
    const link = this.#link();
    let sent = 0;
    try {
      for (const minionId of job.expected) {
        const delivered = link.send(minionId, {
          v: WIRE_VERSION,
          t: 'job',
          jid: job.jid,
          fun: job.fun,
          args: job.args,
          kwargs: job.kwargs,
          ...(job.timeoutMs === undefined ? {} : { timeoutMs: job.timeoutMs }),
          ...(job.splayMs === undefined ? {} : { splayMs: job.splayMs }),
        });
        if (delivered) sent++;
      }
    } catch (err) {
      // Only a job this master did not check itself (a peer's) can fail to encode: its minions keep their sessions.
      this.#log.warn({ err, jid: job.jid, origin }, 'a job could not be sent');
    }
    return sent;
  }

  /** Tells this master's listeners of a return stored elsewhere (a peer forwarded it). */
  announce(event: ReturnEvent): void {
    for (const listener of this.#listeners.get(event.jid) ?? []) {
      // One listener's failure (a stream gone, say) is its own: the others still hear the return.
      try {
        listener(event);
      } catch (err) {
        this.#log.warn({ err, jid: event.jid, minionId: event.minionId }, 'a return listener failed');
      }
    }
  }

  /** Hears every return of `jid` stored from now on; returns the function that stops listening. */
  listen(jid: string, listener: (event: ReturnEvent) => void): () => void {
    const set = this.#listeners.get(jid) ?? new Set();
    set.add(listener);
    this.#listeners.set(jid, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(jid);
    };
  }

  async get(jid: string): Promise<JobRecord> {
    const job = await this.#store.jobs.get(jid);
    if (job === undefined) throw new MasterError(MasterErrorCodes.NOT_FOUND, `no job ${jid} in the job cache`);
    return job;
  }

  list(limit: number, cursor?: string): Promise<{ items: JobRecord[]; cursor?: string }> {
    return this.#store.jobs.listRecent({ limit, ...(cursor === undefined ? {} : { cursor }) });
  }

  async returns(jid: string): Promise<ReturnRecord[]> {
    const all: ReturnRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#store.returns.listForJob(jid, { limit: 1000, cursor });
      all.push(...page.items);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return all;
  }
}
