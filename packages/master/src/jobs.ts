import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Clock } from '@phoenix/protocol';
import {
  checkValue,
  compileTarget,
  DATA_LIMITS,
  namingGrains,
  disabledSkipReason,
  JidGenerator,
  skipsDisabledMinions,
  stateRunsDisabled,
  WIRE_VERSION,
  type TargetType,
  PhoenixError,
} from '@phoenix/protocol';
import {
  ConditionFailedError,
  type JobRecord,
  type JobSummary,
  type MinionRecord,
  type ReturnRecord,
  type Store,
} from '@phoenix/store';
import type { KeyRegistry } from './keys.js';
import { ReturnBatcher } from './return-batcher.js';
import { JobSummaries } from './job-summaries.js';
import type { MinionLink, MinionSession } from './minion-link.js';
import { MasterErrors } from './errors.js';
import { Presence } from './presence.js';
import type { Refusals } from './limits/refusals.js';
import { dispatchedFrom, RecentJobs, type DispatchedJob } from './recent-jobs.js';

export type { DispatchedJob };

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
  /** The submitter's API role; undefined when the master itself submits (reactor, schedule, killswitch). */
  role?: 'read' | 'operate' | 'admin';
  /**
   * The jid to store the job under, minted beforehand with `newJid` (a run records it before the
   * job exists). Stored only if no job has it yet: otherwise ConditionFailedError, and nothing is sent.
   */
  jid?: string;
}

/** A minion an admin disabled (through the API, or with a state.disable job): only an admin lifts it. */
export interface AdminDisable {
  by: string;
  reason: string;
  at: number;
  /** The state runs disabled by name (`highstate`, an SLS, `web.*`); `*` is every one. Absent: `*`. */
  states?: readonly string[];
}

/** Every state run: Salt's whole-minion killswitch. */
export const ALL_STATE_RUNS = '*';

/**
 * The names a state.disable or state.enable job acts on, read as the minion reads them (the
 * `states` argument, comma-separated or a list); none is the whole-minion killswitch, `*`.
 */
export function killswitchNames(args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): string[] {
  const value = args[0] ?? kwargs.states;
  const names = (Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [])
    .filter((name): name is string => typeof name === 'string')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  return names.length === 0 ? [ALL_STATE_RUNS] : [...new Set(names)];
}

/** The names an admin's mark holds. */
export function adminStates(mark: AdminDisable): readonly string[] {
  return mark.states ?? [ALL_STATE_RUNS];
}

/** A minion the target selected that the job was not sent to, and why. */
export interface SkippedMinion {
  minionId: string;
  reason: string;
}

/** Which jobs a minion that connects late is still sent (see RecentJobs). */
export interface RedeliveryOptions {
  /** A job older than this is never sent again, whatever its timeout. */
  windowMs: number;
  /** The timeout of a job that names none. */
  defaultTimeoutMs: number;
}

export interface ReturnEvent {
  jid: string;
  minionId: string;
  success: boolean;
  retcode: number;
  ret: unknown;
  receivedAt: number;
}

/** Where self-reported grains count (a minion reports whatever it likes): nowhere, by default. */
export interface SelfReportedGrains {
  pillar: boolean;
  targeting: boolean;
}

/** What a grains job an operator sent does to the grains the master vouches for, once it returns. */
type GrainsChange = { set: string; value: unknown } | { delete: string };

function grainsChange(fun: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>) {
  const key = kwargs.key ?? args[0];
  if (typeof key !== 'string' || key === 'id') return undefined;
  if (fun === 'grains.setval') return { set: key, value: 'val' in kwargs ? kwargs.val : args[1] };
  if (fun === 'grains.delval') return { delete: key };
  return undefined;
}

/** How jobs and returns cross to the other masters (the peer mesh). */
export interface JobPeers {
  /** To every other master, for the targeted minions connected there. */
  forwardJob(job: DispatchedJob): void;
  /** To the master the job was submitted on, which streams it to the caller. */
  returnToOrigin(origin: string, event: ReturnEvent): void;
}

export interface JobServiceOptions {
  store: Store;
  keys: KeyRegistry;
  /** This master's minion connections: jobs go out through it. */
  link: MinionLink;
  peers: JobPeers;
  /** An operator's grains job changed what this master vouches for about a minion. */
  vouched(minionId: string, operatorGrains: Record<string, unknown>): void;
  masterId: string;
  /** The masters live now, by id (a minion on a master that is gone is not connected, once its transit is over). */
  liveMasters: () => ReadonlySet<string>;
  /** When a master that is no longer live turned dead; undefined when not known. */
  deadSince?: (masterId: string) => number | undefined;
  /**
   * A minion between masters counts as connected this long: after it said goodbye to one (a move),
   * or after the master it was on turned dead (it is failing over). Default 0.
   */
  transitMs?: number;
  refusals?: Refusals;
  /** Where self-reported grains count; nowhere by default. */
  selfReported?: SelfReportedGrains;
  /** Grains the config gives every instance of an auto-scaling group (reactor.groups.NAME.grains). */
  groupGrains?: (group: string) => Readonly<Record<string, unknown>> | undefined;
  redelivery?: RedeliveryOptions;
  /** Timers of the job summaries (see JobSummaries). */
  clock?: Clock;
  /** A job's summary reached its row: listings read since show it (the dashboard's job history reloads). */
  summarized?: (jid: string, summary: JobSummary) => void;
  log: Logger;
}

/** How long after a job's time its late returns still count in its summary. */
const SUMMARY_GRACE_MS = 5_000;

/** Unknown jids remembered at once, and for how long (a job is stored before it is sent, so none turns up later). */
const UNKNOWN_JIDS_HELD = 10_000;
const UNKNOWN_JID_MS = 10_000;

/** What a master keeps of a recent job to check and announce its returns without a table read. */
interface JobFacts {
  readonly expected: ReadonlySet<string>;
  readonly origin: string;
  /** Set for grains.setval / grains.delval: applied to the vouched grains of each minion that succeeds. */
  readonly grains?: GrainsChange;
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
  readonly #link: MinionLink;
  readonly #masterId: string;
  readonly #log: Logger;
  readonly #jids = new JidGenerator();
  readonly #grains = new Map<string, Readonly<Record<string, unknown>>>();
  readonly #adminDisabled = new Map<string, AdminDisable>();
  /** Grains this master vouches for, by minion: its id, its lifecycle record's, operators' grains.setval. */
  readonly #vouched = new Map<string, Readonly<Record<string, unknown>>>();
  /** Grains operators set through the master, by minion (kept in the table as vouchedGrains). */
  readonly #operatorGrains = new Map<string, Readonly<Record<string, unknown>>>();
  readonly #lifecycleGroup = new Map<string, string>();
  /** Return listeners by jid (the event name): a jid with none left is no key at all. */
  readonly #listeners = new EventEmitter<Record<string, [ReturnEvent]>>().setMaxListeners(0);
  /** Expected minions of recent jobs, so a return can be checked without a table read. */
  readonly #recent = new Map<string, JobFacts>();
  /** Jids returned to that the jobs table does not hold, oldest first (see recordReturn). */
  readonly #unknownJids = new Map<string, number>();
  /** Table reads of jobs under way, by jid. */
  readonly #lookups = new Map<string, Promise<JobFacts | undefined>>();
  readonly #returns: ReturnBatcher;
  readonly #summaries: JobSummaries;
  readonly #defaultTimeoutMs: number;
  /** Which master each minion is on: fed the cluster's connect and disconnect events by the master. */
  readonly presence: Presence;
  readonly #liveMasters: () => ReadonlySet<string>;
  readonly #owed: RecentJobs;
  readonly #peers: JobPeers;
  readonly #onVouched: (minionId: string, operatorGrains: Record<string, unknown>) => void;
  readonly #selfReported: SelfReportedGrains;
  readonly #groupGrains: (group: string) => Readonly<Record<string, unknown>> | undefined;

  readonly #refusals: Refusals | undefined;

  constructor(options: JobServiceOptions) {
    const { store } = options;
    this.#groupGrains = options.groupGrains ?? (() => undefined);
    this.#liveMasters = options.liveMasters;
    this.presence = new Presence({
      masterId: options.masterId,
      connectedHere: (minionId) => options.link.isConnected(minionId),
      liveMasters: options.liveMasters,
      deadSince: options.deadSince ?? (() => undefined),
      transitMs: options.transitMs ?? 0,
    });
    this.#selfReported = options.selfReported ?? { pillar: false, targeting: false };
    const redelivery = options.redelivery ?? { windowMs: 600_000, defaultTimeoutMs: 30_000 };
    this.#defaultTimeoutMs = redelivery.defaultTimeoutMs;
    this.#owed = new RecentJobs({
      ...redelivery,
      listSince: (fromMs, now) => store.jobs.listSince(fromMs, { now }),
    });
    this.#store = store;
    this.#refusals = options.refusals;
    this.#keys = options.keys;
    this.#link = options.link;
    this.#peers = options.peers;
    this.#onVouched = options.vouched;
    this.#masterId = options.masterId;
    this.#log = options.log;
    this.#returns = new ReturnBatcher((rets) => store.returns.putMany(rets));
    this.#summaries = new JobSummaries({
      write: async (jid, summary) => {
        await store.jobs.recordSummary(jid, summary);
        options.summarized?.(jid, summary);
      },
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      log: options.log,
    });
  }

  /** Writes the summaries of the jobs still followed, as they stand (not final). */
  stopSummaries(): Promise<void> {
    return this.#summaries.stop();
  }

  /** A jid for a job submitted later with `jid` (see JobRequest.jid). */
  newJid(now = Date.now()): string {
    return this.#jids.next(now);
  }

  /** Loads the grains of every known minion, for grain targeting of minions connected elsewhere. */
  async loadGrains(): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.#store.minions.list({ limit: 1000, cursor });
      for (const record of page.items) {
        if (record.grains) this.#grains.set(record.minionId, record.grains);
        if (record.disabled) this.#adminDisabled.set(record.minionId, record.disabled);
        this.noteRecord(record);
        if (record.connectedMaster !== undefined) this.presence.readFromTable(record.minionId, record.connectedMaster);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /** Whether the grains this master holds for the minion are exactly these (a reconnect that changed nothing). */
  hasGrains(minionId: string, grains: Record<string, unknown>): boolean {
    const known = this.#grains.get(minionId);
    return known !== undefined && isDeepStrictEqual(known, grains);
  }

  rememberGrains(minionId: string, grains: Record<string, unknown>): void {
    this.#grains.set(minionId, Object.freeze({ ...grains }));
  }

  /** What a minion's row says that the master can vouch for: its lifecycle group, its operator grains. */
  noteRecord(record: Pick<MinionRecord, 'minionId' | 'lifecycle' | 'vouchedGrains'>): void {
    if (record.lifecycle !== undefined) this.#lifecycleGroup.set(record.minionId, record.lifecycle.group);
    if (record.vouchedGrains !== undefined) this.#operatorGrains.set(record.minionId, record.vouchedGrains);
    this.#vouched.delete(record.minionId);
  }

  /** Operators' grains for a minion, as told by the master that recorded them (a peer's event). */
  noteOperatorGrains(minionId: string, grains: Record<string, unknown>): void {
    this.#operatorGrains.set(minionId, Object.freeze({ ...grains }));
    this.#vouched.delete(minionId);
  }

  /**
   * The grains this master vouches for: `id`; for a launched instance `instance_id`, the
   * naming-convention grains of the group its lifecycle record names and the grains the config
   * gives that group (`reactor.groups.NAME.grains`); and what operators set
   * through the master (grains.setval / grains.delval jobs, taken from the job, not the minion).
   */
  vouchedGrains(minionId: string): Readonly<Record<string, unknown>> {
    const known = this.#vouched.get(minionId);
    if (known !== undefined) return known;
    const group = this.#lifecycleGroup.get(minionId);
    const lifecycle =
      group === undefined
        ? {}
        : {
            instance_id: minionId,
            ...(namingGrains(group, minionId) ?? namingGrains(group)),
            ...this.#groupGrains(group),
          };
    const vouched = Object.freeze({ ...lifecycle, ...this.#operatorGrains.get(minionId), id: minionId });
    this.#vouched.set(minionId, vouched);
    if (this.#vouched.size > 200_000) this.#vouched.delete(this.#vouched.keys().next().value as string);
    return vouched;
  }

  /** The grains pillar is rendered with: vouched only, unless self-reported ones are opted in. */
  pillarGrains(minionId: string): Readonly<Record<string, unknown>> {
    const vouched = this.vouchedGrains(minionId);
    return this.#selfReported.pillar ? { ...this.grainsOf(minionId), ...vouched } : vouched;
  }

  /** The grains targets match (and orchestrations see): vouched only, unless self-reported ones are opted in. */
  targetingGrains(minionId: string): Readonly<Record<string, unknown>> {
    const vouched = this.vouchedGrains(minionId);
    return this.#selfReported.targeting ? { ...this.grainsOf(minionId), ...vouched } : vouched;
  }

  /** Kept in step by the `minion/disabled` and `minion/enabled` events of every master. */
  noteAdminDisable(minionId: string, disabled: AdminDisable | undefined): void {
    if (disabled === undefined) this.#adminDisabled.delete(minionId);
    else this.#adminDisabled.set(minionId, disabled);
  }

  adminDisabled(minionId: string): AdminDisable | undefined {
    return this.#adminDisabled.get(minionId);
  }

  /** Connected here, to a live peer, or between masters (see Presence). */
  isConnected(minionId: string, now = Date.now()): boolean {
    return this.presence.isConnected(minionId, now);
  }

  /**
   * Reads the presence of the minions this master believes connected nowhere from the minions table
   * (written on every connect): a minion that said hello to a peer before this master was in the
   * mesh is known from then on. A run calls it before deciding who cannot be reached.
   */
  async refreshPresence(minionIds: readonly string[]): Promise<void> {
    const live = this.#liveMasters();
    for (const minionId of minionIds) {
      if (this.isConnected(minionId)) continue;
      const record = await this.#store.minions.get(minionId);
      if (record?.connectedMaster !== undefined && live.has(record.connectedMaster))
        this.presence.connected(minionId, record.connectedMaster);
    }
  }

  grainsOf(minionId: string): Readonly<Record<string, unknown>> {
    return this.#grains.get(minionId) ?? {};
  }

  /** The accepted minions a target selects (validates the target: a bad one is PHX_TARGET_INVALID). */
  expectedMinions(target: string | readonly string[], type: TargetType): string[] {
    const matcher = compileTarget(target, type);
    return this.#keys
      .acceptedIds()
      .filter((id) => matcher.matches({ id, grains: this.targetingGrains(id) }))
      .sort();
  }

  /**
   * Splits the selected minions into those the job goes to and those it skips: a state run that
   * acts (not test=True) skips every minion whose grains say its state runs are disabled.
   */
  partitionDisabled(
    request: Pick<JobRequest, 'fun' | 'args' | 'kwargs' | 'role'>,
    selected: readonly string[],
  ): { expected: string[]; skipped: SkippedMinion[] } {
    // Below admin, state.enable cannot lift what an admin disabled: the minion is skipped, saying so.
    const lifting = request.fun === 'state.enable' && request.role !== undefined && request.role !== 'admin';
    const lifted = lifting ? killswitchNames(request.args, request.kwargs) : [];
    const stateRun = skipsDisabledMinions(request.fun, request.kwargs);
    if (!lifting && !stateRun) return { expected: [...selected], skipped: [] };
    const expected: string[] = [];
    const skipped: SkippedMinion[] = [];
    for (const minionId of selected) {
      const byAdmin = this.#adminDisabled.get(minionId);
      const held = byAdmin === undefined ? [] : lifted.filter((name) => adminStates(byAdmin).includes(name));
      if (byAdmin !== undefined && held.length > 0) {
        skipped.push({
          minionId,
          reason: `${held.join(', ')} disabled by the admin ${byAdmin.by}${byAdmin.reason === '' ? '' : ` ("${byAdmin.reason}")`}: only an admin can enable it`,
        });
        continue;
      }
      // The master's own mark of the whole killswitch counts as much as the minion's grain, which
      // the minion could lose.
      const whole = byAdmin !== undefined && adminStates(byAdmin).includes(ALL_STATE_RUNS);
      const disabled =
        stateRun &&
        (stateRunsDisabled(this.grainsOf(minionId)) ??
          (whole ? { ...byAdmin, at: new Date(byAdmin.at).toISOString() } : undefined));
      if (disabled) skipped.push({ minionId, reason: disabledSkipReason(disabled) });
      else expected.push(minionId);
    }
    return { expected, skipped };
  }

  /**
   * Stores and sends a job. When every selected minion is skipped the job is still stored (its
   * record says who was skipped and why) but nothing is sent.
   */
  async submit(request: JobRequest, now = Date.now()): Promise<JobRecord> {
    // First, before anything is stored or sent: a job that cannot travel is refused whole.
    this.checkArguments(request);
    const selected = this.expectedMinions(request.target, request.targetType);
    if (selected.length === 0) {
      throw new PhoenixError(
        MasterErrors.PHX_JOB_NO_MINIONS,
        'no accepted minion matches the target; nothing was run',
        {
          details: { target: request.target, targetType: request.targetType },
        },
      );
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
    // Returns may come a little after the job's time: they still count, within a grace.
    this.#summaries.follow(job.jid, expected, (request.timeoutMs ?? this.#defaultTimeoutMs) + SUMMARY_GRACE_MS);
    const dispatched: DispatchedJob = {
      jid: job.jid,
      fun: job.fun,
      args: job.args,
      kwargs: job.kwargs,
      expected: job.expected,
      ...(notConnected.length === 0 ? {} : { notConnected }),
      ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
      ...(request.splayMs === undefined || request.splayMs === 0 ? {} : { splayMs: request.splayMs }),
    };
    this.deliver(dispatched, this.#masterId);
    this.#peers.forwardJob(dispatched);
    return job;
  }

  /** PHX_INPUT_OVER_LIMIT when the arguments are nested too deep, too many, or too big for a job. */
  checkArguments(request: Pick<JobRequest, 'args' | 'kwargs'>): void {
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
    throw new PhoenixError(MasterErrors.PHX_INPUT_OVER_LIMIT, `job arguments refused: ${message ?? reason}`, {
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
          jid: request.jid ?? this.#jids.next(now),
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
          ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
          ...(request.splayMs === undefined || request.splayMs === 0 ? {} : { splayMs: request.splayMs }),
          createdAt: now,
        });
      } catch (err) {
        if (!(err instanceof ConditionFailedError) || attempt >= 5 || request.jid !== undefined) throw err;
      }
    }
  }

  /** Stores a minion's return once; the first copy is announced, re-sends after a failover are not. */
  async recordReturn(
    session: MinionSession,
    message: { jid: string; success: boolean; retcode: number; ret: unknown },
  ): Promise<void> {
    // A minion can only answer for itself, and only to jobs it was sent. A flood of returns for
    // jobs that do not exist costs one table read per jid (then the jid is remembered as unknown
    // for a while), a count each, and one log line per jid: not a read and a line per message.
    const unknownSince = this.#unknownJids.get(message.jid);
    const knownUnknown = unknownSince !== undefined && Date.now() - unknownSince < UNKNOWN_JID_MS;
    const facts = knownUnknown ? undefined : await this.#jobFacts(message.jid);
    if (facts === undefined || !facts.expected.has(session.minionId)) {
      const reason = facts === undefined ? 'unknown-job' : 'not-sent';
      this.#refusals?.count('wire', reason);
      if (facts === undefined && this.#noteUnknown(message.jid)) {
        this.#log.warn(
          { jid: message.jid, minionId: session.minionId },
          'refused a return for a job that does not exist',
        );
      } else if (facts !== undefined) {
        this.#log.warn(
          { jid: message.jid, minionId: session.minionId },
          'refused a return for a job this minion was not sent',
        );
      }
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
    if (facts.grains !== undefined && message.success) this.#applyGrainsChange(session.minionId, facts.grains);
    const event: ReturnEvent = {
      jid: message.jid,
      minionId: session.minionId,
      success: message.success,
      retcode: message.retcode,
      ret: message.ret,
      receivedAt,
    };
    this.announce(event);
    if (facts.origin !== this.#masterId) this.#peers.returnToOrigin(facts.origin, event);
  }

  /** Notes a jid the jobs table does not hold; false when it was noted already (and still fresh). */
  #noteUnknown(jid: string): boolean {
    const since = this.#unknownJids.get(jid);
    if (since !== undefined && Date.now() - since < UNKNOWN_JID_MS) return false;
    this.#unknownJids.delete(jid);
    this.#unknownJids.set(jid, Date.now());
    // Oldest first (a Map keeps insertion order): expired ones, then any beyond the bound.
    for (const [old, at] of this.#unknownJids) {
      if (this.#unknownJids.size <= UNKNOWN_JIDS_HELD && Date.now() - at < UNKNOWN_JID_MS) break;
      this.#unknownJids.delete(old);
    }
    return true;
  }

  async #jobFacts(jid: string): Promise<JobFacts | undefined> {
    const known = this.#recent.get(jid);
    if (known !== undefined) return known;
    // Returns of one job arriving together wait for one read of it, not one read each.
    let lookup = this.#lookups.get(jid);
    if (lookup === undefined) {
      lookup = this.#store.jobs
        .get(jid)
        .then((job) => (job === undefined ? undefined : this.#remember(job, job.originMaster)))
        .finally(() => this.#lookups.delete(jid));
      this.#lookups.set(jid, lookup);
    }
    return lookup;
  }

  #remember(job: Pick<DispatchedJob, 'jid' | 'expected' | 'fun' | 'args' | 'kwargs'>, origin: string): JobFacts {
    const { jid, expected } = job;
    const known = this.#recent.get(jid);
    if (known !== undefined) return known;
    const grains = grainsChange(job.fun, job.args, job.kwargs);
    const facts: JobFacts = {
      expected: new Set(expected),
      origin,
      returned: new Set(),
      ...(grains === undefined ? {} : { grains }),
    };
    this.#recent.set(jid, facts);
    // Bounded: the oldest entries go first (a Map iterates in insertion order).
    for (const old of this.#recent.keys()) {
      if (this.#recent.size <= 10_000) break;
      this.#recent.delete(old);
    }
    return facts;
  }

  #applyGrainsChange(minionId: string, change: GrainsChange): void {
    const next: Record<string, unknown> = { ...this.#operatorGrains.get(minionId) };
    if ('set' in change) next[change.set] = change.value;
    else delete next[change.delete];
    this.noteOperatorGrains(minionId, next);
    this.#onVouched(minionId, next);
  }

  /**
   * Sends a job to the targeted minions connected to this master: its own jobs, and jobs forwarded
   * by the master they were submitted on.
   */
  deliver(job: DispatchedJob, origin: string): number {
    const facts = this.#remember(job, origin);
    this.#owed.note(job, facts.expected);
    const link = this.#link;
    let sent = 0;
    try {
      sent = link.sendToEach(job.expected, jobMessage(job));
    } catch (err) {
      // Only a job this master did not check itself (a peer's) can fail to encode: its minions keep their sessions.
      this.#log.warn({ err, jid: job.jid, origin }, 'a job could not be sent');
    }
    return sent;
  }

  /**
   * A minion connected here: it is sent every job still within its time that targeted it and that
   * it has neither seen (its hello names those) nor returned — a job published into a master that
   * died, or forwarded to one, reaches it all the same. The minion runs a jid once, whatever
   * arrives twice. Resolves with the jids sent.
   */
  async redeliver(minionId: string, seen: readonly string[]): Promise<string[]> {
    // What this master holds goes at once; what only the table knows follows its read.
    const handled = new Set(seen);
    const sent: string[] = [];
    const send = async (owed: readonly DispatchedJob[]): Promise<void> => {
      for (const job of owed) {
        handled.add(job.jid);
        if (await this.#returned(job.jid, minionId)) continue;
        try {
          if (this.#link.send(minionId, jobMessage(job))) sent.push(job.jid);
        } catch (err) {
          this.#log.warn({ err, jid: job.jid, minionId }, 'a job could not be sent');
        }
      }
    };
    await send(this.#owed.owedNow(minionId, handled));
    await send(await this.#owed.owedTo(minionId, handled));
    if (sent.length > 0) this.#log.info({ minionId, jids: sent }, 'sent a minion the jobs it missed');
    return sent;
  }

  /**
   * Sends a stored job again to its minions wherever they are connected: here, and through every
   * peer (they de-duplicate by jid). For whoever holds a job whose master died before it reached
   * the minion. False when the job is unknown.
   */
  async redispatch(jid: string): Promise<boolean> {
    let job = this.#owed.get(jid);
    if (job === undefined) {
      const record = await this.#store.jobs.get(jid);
      if (record === undefined) return false;
      job = dispatchedFrom(record);
    }
    this.deliver(job, this.#recent.get(jid)?.origin ?? this.#masterId);
    this.#peers.forwardJob(job);
    return true;
  }

  async #returned(jid: string, minionId: string): Promise<boolean> {
    if (this.#recent.get(jid)?.returned.has(minionId) === true) return true;
    return (await this.#store.returns.get(jid, minionId)) !== undefined;
  }

  /** Tells this master's listeners of a return stored elsewhere (a peer forwarded it). */
  announce(event: ReturnEvent): void {
    this.#summaries.heard(event);
    for (const listener of this.#listeners.listeners(event.jid)) {
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
    this.#listeners.on(jid, listener);
    return () => void this.#listeners.off(jid, listener);
  }

  async get(jid: string): Promise<JobRecord> {
    const job = await this.#store.jobs.get(jid);
    if (job === undefined) throw new PhoenixError(MasterErrors.PHX_API_NOT_FOUND, `no job ${jid} in the job cache`);
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

function jobMessage(job: DispatchedJob) {
  return {
    v: WIRE_VERSION,
    t: 'job',
    jid: job.jid,
    fun: job.fun,
    args: job.args,
    kwargs: job.kwargs,
    ...(job.timeoutMs === undefined ? {} : { timeoutMs: job.timeoutMs }),
    ...(job.splayMs === undefined ? {} : { splayMs: job.splayMs }),
  } as const;
}
