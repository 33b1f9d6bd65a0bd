import type { Logger } from 'pino';
import {
  batchWindow,
  failureAllowance,
  parseBatchSize,
  parseFailureLimit,
  isPhoenixError,
  PhoenixError,
  type TargetType,
} from '@phoenix/protocol';
import {
  ConditionFailedError,
  type LoadedRun,
  type RunDispatch,
  type RunStatus,
  type RunOutcome,
  type RunsTable,
  type RunTargets,
} from '@phoenix/store';
import type { JobService, ReturnEvent } from '../jobs.js';
import { MasterErrors } from '../errors.js';
import { BatchWindow } from './batch-window.js';

/** A job a run sends, whole or in batches: one step of a run. */
export interface JobStepSpec {
  target: string | string[];
  targetType: TargetType;
  fun: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** How long each minion has to return. */
  timeoutMs: number;
  /** The submitter's API role, which decides what a state.enable may lift (see JobService.partitionDisabled). */
  role?: 'read' | 'operate' | 'admin';
  /** As typed (`2`, `25%`): checked when the run is made, read again by whichever master drives it. */
  batch?: { size: string; waitMs: number; maxFailures?: string };
}

/** What a step of a run works with: its driver's lease, the job service, the run's items. */
export interface RunContext {
  readonly runId: string;
  /** The lease this master drives the run under: every write that decides something names it. */
  readonly leaseId: string;
  readonly masterId: string;
  readonly submitter: string;
  readonly runs: RunsTable;
  readonly jobs: JobService;
  /** Aborted when this master loses the lease or stops. */
  readonly signal: AbortSignal;
  /** Throws PHX_RUN_LEASE_LOST unless this master surely still holds the lease: nothing is sent otherwise. */
  assertHeld(): void;
  now(): number;
  readonly log: Logger;
}

/** How one kind of run executes, given the run's context and what the table holds of it. */
export type RunDriver = (ctx: RunContext, loaded: LoadedRun) => Promise<RunEnd>;

export interface RunEnd {
  status: Exclude<RunStatus, 'running'>;
  summary: string;
}

export interface JobStepResult {
  readonly targets: RunTargets;
  readonly dispatches: readonly RunDispatch[];
  readonly outcomes: ReadonlyMap<string, RunOutcome>;
  /** Targeted minions that never got the job: the rollout stopped first, or they were not connected. */
  readonly neverRan: readonly string[];
  /** The failures passed the limit: nothing new was started after that. */
  readonly stopped: boolean;
  readonly failures: number;
  readonly allowance: number | undefined;
}

/** After a job's time is up, returns still in flight get this much more before the minion counts as silent. */
const RETURN_GRACE_MS = 2_000;
/** How often returns are read from the table (a return stored on a master that is not the job's origin). */
const POLL_MS = 1_000;

/** Whether a minion's return counts as a success: it succeeded and its retcode is 0 (a failed state is 2). */
export function succeeded(ret: Pick<ReturnEvent, 'success' | 'retcode'>): boolean {
  return ret.success && ret.retcode === 0;
}

/**
 * Runs one job step of a run: resolves its minions once (written before anything is sent), then
 * sends the job to at most the batch's window at a time, each job recorded as a dispatch before it
 * is stored and sent, and follows the returns. Re-entrant from what the table holds: a master that
 * takes a run over calls it again and carries on where the last driver stopped, following every
 * dispatch already made by its jid and never sending a minion the step's job twice.
 */
export async function runJobStep(
  ctx: RunContext,
  step: number,
  spec: JobStepSpec,
  saved: { targets?: RunTargets; dispatches: readonly RunDispatch[] },
): Promise<JobStepResult> {
  const targets = saved.targets ?? (await resolveTargets(ctx, step, spec));
  const dispatches = saved.dispatches.map((d) => ({ ...d, outcomes: { ...d.outcomes } }));
  const total = targets.minions.length;
  const size = spec.batch === undefined ? Math.max(1, total) : batchWindow(parseBatchSize(spec.batch.size), total);
  const waitMs = spec.batch?.waitMs ?? 0;
  const allowance =
    spec.batch?.maxFailures === undefined
      ? undefined
      : failureAllowance(parseFailureLimit(spec.batch.maxFailures), total);
  const sent = new Set(dispatches.flatMap((d) => d.minions));
  const queue = targets.minions.filter((id) => !sent.has(id));
  const outcomes = new Map<string, RunOutcome>();
  for (const d of dispatches) for (const [id, outcome] of Object.entries(d.outcomes)) outcomes.set(id, outcome);
  const now = ctx.now();
  const window = new BatchWindow(
    { size, waitMs, allowance },
    {
      running: dispatches.reduce((n, d) => n + d.minions.filter((id) => !outcomes.has(id)).length, 0),
      failures: [...outcomes.values()].filter((o) => !o.ok).length,
      heldUntil: waitMs === 0 ? [] : [...outcomes.values()].map((o) => o.at + waitMs).filter((t) => t > now),
    },
  );

  const wake = new Wake(ctx.signal);
  const listening = new Map<string, () => void>();
  const follow = (dispatch: RunDispatch): void => {
    if (listening.has(dispatch.jid)) return;
    listening.set(
      dispatch.jid,
      ctx.jobs.listen(dispatch.jid, (event) => {
        if (settle(dispatch, event.minionId, outcomeOf(event))) wake.now();
      }),
    );
  };
  /** Records one minion's outcome once; false when it was known already (or not this dispatch's). */
  const settle = (dispatch: RunDispatch, minionId: string, outcome: RunOutcome): boolean => {
    if (!dispatch.minions.includes(minionId) || dispatch.outcomes[minionId] !== undefined) return false;
    dispatch.outcomes[minionId] = outcome;
    outcomes.set(minionId, outcome);
    window.finished(outcome.ok, outcome.at);
    dirty.add(dispatch);
    return true;
  };
  const dirty = new Set<RunDispatch>();
  const inFlight = (): RunDispatch[] => dispatches.filter((d) => d.minions.some((id) => d.outcomes[id] === undefined));

  try {
    // A master taking over: every dispatch still in flight is followed by its jid.
    for (const dispatch of inFlight()) {
      follow(dispatch);
      await resume(ctx, spec, dispatch, settle);
    }
    let polledAt = 0;
    for (;;) {
      ctx.signal.throwIfAborted();
      const at = ctx.now();
      const free = window.free(at);
      if (free > 0 && queue.length > 0) {
        const minions = queue.splice(0, free);
        // Counted first: minions the job cannot reach (not connected) are settled while it is sent.
        window.started(minions.length);
        const dispatch = await send(ctx, step, dispatches.length, spec, minions, settle, follow);
        dispatches.push(dispatch);
        continue;
      }
      // Deadlines: a minion that has not returned in its time counts as failed, and is not waited for.
      for (const dispatch of inFlight()) {
        if (at < dispatch.sentAt + spec.timeoutMs + RETURN_GRACE_MS) continue;
        for (const id of dispatch.minions)
          if (dispatch.outcomes[id] === undefined) settle(dispatch, id, { ok: false, retcode: 1, at, timedOut: true });
      }
      if (at - polledAt >= POLL_MS) {
        polledAt = at;
        for (const dispatch of inFlight()) {
          for (const ret of await ctx.jobs.returns(dispatch.jid)) settle(dispatch, ret.minionId, outcomeOf(ret));
        }
      }
      for (const dispatch of dirty)
        await ctx.runs.setOutcomes(ctx.runId, dispatch.step, dispatch.seq, dispatch.outcomes);
      dirty.clear();
      const flying = inFlight();
      if (flying.length === 0 && (queue.length === 0 || window.stopped)) break;
      const next = [
        at + POLL_MS,
        window.nextFreeAt(at),
        ...flying.map((d) => d.sentAt + spec.timeoutMs + RETURN_GRACE_MS),
      ].filter((t): t is number => t !== undefined);
      await wake.until(Math.min(...next) - at);
    }
  } finally {
    for (const stop of listening.values()) stop();
    wake.close();
  }
  const neverRan = [...targets.notConnected, ...queue, ...[...outcomes].filter(([, o]) => o.missed).map(([id]) => id)];
  return {
    targets,
    dispatches,
    outcomes,
    neverRan,
    stopped: window.stopped && queue.length > 0,
    failures: window.failures,
    allowance,
  };
}

/**
 * The step's minions, fixed when it starts (as Salt resolves a batch's targets once): those the
 * target selects, without the ones whose state runs are disabled (skipped) and those connected to
 * no master (they cannot run it: named, never waited for).
 */
export async function resolveTargets(ctx: RunContext, step: number, spec: JobStepSpec): Promise<RunTargets> {
  const targets = await selectTargets(ctx.jobs, spec);
  ctx.assertHeld();
  try {
    await ctx.runs.putTargets(ctx.runId, step, targets, ctx.now());
  } catch (err) {
    if (err instanceof ConditionFailedError) throw leaseLost(ctx, 'the step was started by another master');
    throw err;
  }
  return targets;
}

/** The minions a step would run on now, and those it would not (see resolveTargets). */
export async function selectTargets(jobs: JobService, spec: JobStepSpec): Promise<RunTargets> {
  const selected = jobs.expectedMinions(spec.target, spec.targetType);
  const { expected, skipped } = jobs.partitionDisabled(spec, selected);
  await jobs.refreshPresence(expected);
  return {
    minions: expected.filter((id) => jobs.isConnected(id)),
    skipped,
    notConnected: expected.filter((id) => !jobs.isConnected(id)),
  };
}

/** Records the dispatch, then stores and sends its job under the jid recorded. */
async function send(
  ctx: RunContext,
  step: number,
  seq: number,
  spec: JobStepSpec,
  minions: string[],
  settle: (dispatch: RunDispatch, minionId: string, outcome: RunOutcome) => boolean,
  follow: (dispatch: RunDispatch) => void,
): Promise<RunDispatch> {
  ctx.assertHeld();
  const sentAt = ctx.now();
  let dispatch: RunDispatch;
  try {
    dispatch = await ctx.runs.putDispatch(ctx.runId, {
      step,
      seq,
      jid: ctx.jobs.newJid(sentAt),
      minions,
      sentAt,
      sentBy: ctx.masterId,
    });
  } catch (err) {
    if (err instanceof ConditionFailedError) throw leaseLost(ctx, 'another master sent the next job of the step');
    throw err;
  }
  // Listening before the job exists: no return can come before its listener.
  follow(dispatch);
  await submit(ctx, spec, dispatch, settle);
  return dispatch;
}

/**
 * Stores and sends the dispatch's job. Minions the job could not go to (disabled meanwhile, not
 * connected) are settled as missed at once. A job already stored under the jid (another master got
 * there first) is not sent again.
 */
async function submit(
  ctx: RunContext,
  spec: JobStepSpec,
  dispatch: RunDispatch,
  settle: (dispatch: RunDispatch, minionId: string, outcome: RunOutcome) => boolean,
): Promise<void> {
  const at = ctx.now();
  try {
    await ctx.jobs.refreshPresence(dispatch.minions);
    const job = await ctx.jobs.submit(
      {
        target: dispatch.minions,
        targetType: 'list',
        fun: spec.fun,
        args: spec.args,
        kwargs: spec.kwargs,
        submitter: ctx.submitter,
        timeoutMs: spec.timeoutMs,
        jid: dispatch.jid,
        ...(spec.role === undefined ? {} : { role: spec.role }),
      },
      at,
    );
    for (const { minionId, reason } of job.skipped ?? [])
      settle(dispatch, minionId, { ok: false, retcode: 1, at, missed: reason });
    for (const minionId of job.notConnected ?? [])
      settle(dispatch, minionId, { ok: false, retcode: 1, at, missed: 'not connected to any master' });
    ctx.log.info({ runId: ctx.runId, jid: dispatch.jid, minions: dispatch.minions.length }, 'run sent a job');
  } catch (err) {
    if (err instanceof ConditionFailedError) return;
    if (isPhoenixError(err, MasterErrors.PHX_JOB_NO_MINIONS)) {
      for (const id of dispatch.minions)
        settle(dispatch, id, { ok: false, retcode: 1, at, missed: 'no longer accepted' });
      return;
    }
    throw err;
  }
}

/**
 * A dispatch made by a master that is gone: its job, if it was stored, is sent again under the same
 * jid wherever its minions are (a minion runs a jid once, so one that has it carries on); if it was
 * never stored, it was never sent, and is stored and sent now.
 */
async function resume(
  ctx: RunContext,
  spec: JobStepSpec,
  dispatch: RunDispatch,
  settle: (dispatch: RunDispatch, minionId: string, outcome: RunOutcome) => boolean,
): Promise<void> {
  ctx.assertHeld();
  if (await ctx.jobs.redispatch(dispatch.jid)) {
    ctx.log.info({ runId: ctx.runId, jid: dispatch.jid }, 'run follows a job sent by the master before it');
    return;
  }
  await submit(ctx, spec, dispatch, settle);
}

function outcomeOf(ret: Pick<ReturnEvent, 'success' | 'retcode' | 'receivedAt'>): RunOutcome {
  return { ok: succeeded(ret), retcode: ret.retcode, at: ret.receivedAt };
}

export function leaseLost(ctx: Pick<RunContext, 'runId'>, why: string): PhoenixError {
  return new PhoenixError(MasterErrors.PHX_RUN_LEASE_LOST, `run ${ctx.runId}: ${why}`, {
    details: { runId: ctx.runId },
  });
}

/** Wakes a waiting loop early: a return came, or the run's signal aborted. */
class Wake {
  #resolve: (() => void) | undefined;
  /** Woken while nobody waited: the next wait returns at once. */
  #pending = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #signal: AbortSignal;
  readonly #onAbort = (): void => this.now();

  constructor(signal: AbortSignal) {
    this.#signal = signal;
    signal.addEventListener('abort', this.#onAbort);
  }

  now(): void {
    const resolve = this.#resolve;
    this.#resolve = undefined;
    clearTimeout(this.#timer);
    if (resolve === undefined) this.#pending = true;
    else resolve();
  }

  until(ms: number): Promise<void> {
    if (this.#signal.aborted || this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#resolve = resolve;
      this.#timer = setTimeout(() => this.now(), Math.max(0, ms));
    });
  }

  close(): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    clearTimeout(this.#timer);
    this.#resolve?.();
    this.#resolve = undefined;
  }
}
