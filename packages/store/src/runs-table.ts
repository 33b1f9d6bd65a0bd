import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { dayOf } from './jobs-table.js';
import { expiresAt } from './options.js';
import type { StoreOptions } from './options.js';
import { Table } from './table.js';

/**
 * Runs: batch rollouts and orchestrations, each driven by one master at a time under a lease and
 * resumed by another when that master dies. No table is added:
 *
 * - the **header** lives in the jobs table under `run#<runId>` (no 20-digit jid can take it), with
 *   `day` = `runs#YYYY-MM-DD`, so the byDay index lists the runs of a day while job listings (which
 *   ask for plain days) never see them: status, lease, the spec, each step's state;
 * - the **items** of a run live in the returns table, in the partition `run#<runId>`: the minions
 *   each step targeted (`t#<step>#<chunk>`, written once when the step starts), and every job the
 *   run sent (`d#<step>#<seq>`, written **before** the job is stored and sent, so a master taking a
 *   run over knows every jid it must follow and never sends a step's job a second time), with the
 *   outcome of each of its minions as the driver learns them.
 *
 * Decisions are conditional writes on the header's lease: only the holder renews it, records a
 * step or finishes the run; a lease that lapsed is taken over by one master (the condition names
 * the lapsed holder's lease id). DynamoDB transactions are not needed (the local DynamoDB has none).
 */

export const RUN_KINDS = ['batch', 'orchestration'] as const;
export type RunKind = (typeof RUN_KINDS)[number];
/** `stopped`: a batch rollout whose failures passed its limit; the minions it did not reach never ran. */
export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'stopped'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

const RunLeaseSchema = z.object({ holder: z.string(), leaseId: z.string(), until: z.number() });
export type RunLease = z.output<typeof RunLeaseSchema>;

/** A step as the driver records it: started (and the jobs it sent are items), then its outcome. */
export const RunStepSchema = z.object({
  status: z.enum(['running', 'done']),
  startedAt: z.number(),
  finishedAt: z.number().optional(),
  /** Salt's result: true, false, or null (test=True, would change). */
  result: z.boolean().nullable().optional(),
  comment: z.string().optional(),
  /** Whether the step changed something (onchanges and watch read it when a run is resumed). */
  changed: z.boolean().optional(),
  /** Where the step came in the run's order (Salt's __run_num__), once the engine reported it. */
  runNum: z.number().optional(),
  /** salt.wait_for_event: the ids seen so far, kept so a master taking over waits only for the rest. */
  seen: z.array(z.string()).optional(),
});
export type RunStep = z.output<typeof RunStepSchema>;

const StoredRunSchema = z.object({
  jid: z.string().startsWith('run#'),
  runId: z.string(),
  kind: z.enum(RUN_KINDS),
  /** What an operator sees in a listing: `cmd.run on web-*`, the orchestration's name. */
  title: z.string(),
  submitter: z.string(),
  originMaster: z.string(),
  status: z.enum(RUN_STATUSES),
  createdAt: z.number(),
  updatedAt: z.number(),
  finishedAt: z.number().optional(),
  /** Absent once the run is finished: nobody holds it. */
  lease: RunLeaseSchema.optional(),
  /** Every master that drove the run, in order (a takeover appends one). */
  drivers: z.array(z.string()),
  /** What to run, as the master that created it compiled it (JSON text; its shape is the master's). */
  spec: z.string(),
  steps: z.record(z.string(), RunStepSchema),
  /** Why a run ended as it did, in a line (failures passed the limit, a step failed...). */
  summary: z.string().optional(),
  day: z.string(),
  expiresAt: z.number(),
});
type StoredRun = z.output<typeof StoredRunSchema>;

export interface RunRecord {
  runId: string;
  kind: RunKind;
  title: string;
  submitter: string;
  originMaster: string;
  status: RunStatus;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
  lease?: RunLease;
  drivers: string[];
  spec: Record<string, unknown>;
  /** By step index. */
  steps: Record<number, RunStep>;
  summary?: string;
}

export type NewRun = Pick<RunRecord, 'runId' | 'kind' | 'title' | 'submitter' | 'originMaster' | 'spec'>;

const RunRecordSchema = StoredRunSchema.transform((stored, ctx): RunRecord => {
  let spec: unknown;
  try {
    spec = JSON.parse(stored.spec);
  } catch {
    spec = undefined;
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    ctx.addIssue({ code: 'custom', path: ['spec'], message: 'is not a JSON object' });
    return z.NEVER;
  }
  const steps: Record<number, RunStep> = {};
  for (const [key, step] of Object.entries(stored.steps)) steps[Number(key.slice(1))] = step;
  const { jid: _key, day: _day, expiresAt: _ttl, spec: _spec, steps: _steps, ...rest } = stored;
  return { ...rest, spec: spec as Record<string, unknown>, steps };
});

/** One minion's outcome in a job a run sent. */
export const RunOutcomeSchema = z.object({
  ok: z.boolean(),
  retcode: z.number(),
  /** When the return was stored (or the minion's time ran out). */
  at: z.number(),
  /** No return within the job's time: counted as a failure. */
  timedOut: z.boolean().optional(),
  /** The minion was connected to no master when the job was sent (or was skipped): it never ran. */
  missed: z.string().optional(),
});
export type RunOutcome = z.output<typeof RunOutcomeSchema>;

const ItemSchema = z.union([
  z.object({
    jid: z.string(),
    minionId: z.string().regex(/^t#\d{4}#\d{4}$/),
    minions: z.array(z.string()),
    skipped: z.array(z.object({ minionId: z.string(), reason: z.string() })).optional(),
    notConnected: z.array(z.string()).optional(),
    expiresAt: z.number(),
  }),
  z.object({
    jid: z.string(),
    minionId: z.string().regex(/^d#\d{4}#\d{6}$/),
    job: z.string(),
    minions: z.array(z.string()),
    sentAt: z.number(),
    sentBy: z.string(),
    outcomes: z.record(z.string(), RunOutcomeSchema),
    expiresAt: z.number(),
  }),
]);
type StoredItem = z.output<typeof ItemSchema>;

/** The minions one step targeted: those it runs on, and those it could not (skipped, not connected). */
export interface RunTargets {
  minions: string[];
  skipped: { minionId: string; reason: string }[];
  notConnected: string[];
}

/** One job a run sent: written before the job is, so its jid is never lost with its master. */
export interface RunDispatch {
  step: number;
  seq: number;
  jid: string;
  minions: string[];
  sentAt: number;
  sentBy: string;
  outcomes: Record<string, RunOutcome>;
}

/** A run with its items, as a driver resumes it or the API shows it. */
export interface LoadedRun {
  run: RunRecord;
  targets: Map<number, RunTargets>;
  /** By step, in the order they were sent. */
  dispatches: Map<number, RunDispatch[]>;
}

/** Minions per target item: 2,000 ids stay far below DynamoDB's 400 KB an item. */
const TARGET_CHUNK = 2_000;
/** A step's comment is kept to this many characters (the full returns are in the returns table). */
const MAX_COMMENT = 2_000;

const key = (runId: string): string => `run#${runId}`;
const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export class RunsTable {
  readonly #headers: Table<RunRecord>;
  readonly #items: Table<StoredItem>;
  readonly #options: StoreOptions;

  constructor(doc: DynamoDBDocumentClient, jobsTable: string, returnsTable: string, options: StoreOptions) {
    this.#options = options;
    this.#headers = new Table(doc, jobsTable, ['jid'], RunRecordSchema, options.pageSize);
    this.#items = new Table(doc, returnsTable, ['jid', 'minionId'], ItemSchema, options.pageSize);
  }

  #ttl(from: number): number {
    return expiresAt(from, this.#options.jobRetentionMs);
  }

  /** Stores a new run held by `lease`; a run id that exists already is a ConditionFailedError. */
  async create(run: NewRun, lease: RunLease, now = Date.now()): Promise<RunRecord> {
    const stored: StoredRun = {
      jid: key(run.runId),
      runId: run.runId,
      kind: run.kind,
      title: run.title,
      submitter: run.submitter,
      originMaster: run.originMaster,
      status: 'running',
      createdAt: now,
      updatedAt: now,
      lease,
      drivers: [lease.holder],
      spec: JSON.stringify(run.spec),
      steps: {},
      day: `runs#${dayOf(now)}`,
      expiresAt: this.#ttl(now),
    };
    await this.#headers.put(stored, { expression: 'attribute_not_exists(jid)' });
    return this.#headers.parse(stored);
  }

  get(runId: string): Promise<RunRecord | undefined> {
    return this.#headers.get({ jid: key(runId) });
  }

  /** The header with every item: targets and dispatches, by step. Undefined for an unknown run. */
  async load(runId: string): Promise<LoadedRun | undefined> {
    const run = await this.get(runId);
    if (run === undefined) return undefined;
    const targets = new Map<number, RunTargets>();
    const dispatches = new Map<number, RunDispatch[]>();
    let cursor: string | undefined;
    do {
      const page = await this.#items.query(
        { KeyConditionExpression: 'jid = :jid', ExpressionAttributeValues: { ':jid': key(runId) } },
        { limit: 1_000, ...(cursor === undefined ? {} : { cursor }) },
      );
      for (const item of page.items) {
        const [, stepText = '0', seqText = '0'] = item.minionId.split('#');
        const step = Number(stepText);
        if ('job' in item) {
          const list = dispatches.get(step) ?? [];
          list.push({
            step,
            seq: Number(seqText),
            jid: item.job,
            minions: item.minions,
            sentAt: item.sentAt,
            sentBy: item.sentBy,
            outcomes: item.outcomes,
          });
          dispatches.set(step, list);
        } else {
          const known = targets.get(step) ?? { minions: [], skipped: [], notConnected: [] };
          known.minions.push(...item.minions);
          known.skipped.push(...(item.skipped ?? []));
          known.notConnected.push(...(item.notConnected ?? []));
          targets.set(step, known);
        }
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    for (const list of dispatches.values()) list.sort((a, b) => a.seq - b.seq);
    return { run, targets, dispatches };
  }

  /** Extends the holder's lease; ConditionFailedError once another master holds it or the run ended. */
  async renew(runId: string, leaseId: string, until: number, now = Date.now()): Promise<RunRecord> {
    return this.#headers.update({ jid: key(runId) }, { 'lease.until': until, updatedAt: now }, this.#held(leaseId));
  }

  /**
   * Takes over a run whose lease lapsed: only while `lapsed` (the lease as the caller read it) is
   * still the run's and its time is past, so of many masters trying exactly one wins.
   */
  async takeOver(run: RunRecord, lapsed: RunLease, lease: RunLease, now = Date.now()): Promise<RunRecord> {
    return this.#headers.update(
      { jid: key(run.runId) },
      { lease, drivers: [...run.drivers, lease.holder], updatedAt: now },
      {
        expression: '#status = :running AND #lease.#leaseId = :old AND #lease.#until <= :now',
        names: { '#status': 'status', '#lease': 'lease', '#leaseId': 'leaseId', '#until': 'until' },
        values: { ':running': 'running', ':old': lapsed.leaseId, ':now': now },
      },
    );
  }

  /** Records a step's state under the holder's lease. */
  async setStep(runId: string, leaseId: string, step: number, state: RunStep, now = Date.now()): Promise<RunRecord> {
    const comment = state.comment;
    const kept =
      comment !== undefined && comment.length > MAX_COMMENT
        ? { ...state, comment: `${comment.slice(0, MAX_COMMENT)}…` }
        : state;
    return this.#headers.update({ jid: key(runId) }, { [`steps.s${step}`]: kept, updatedAt: now }, this.#held(leaseId));
  }

  /** Ends the run under the holder's lease: its status, why, and no lease any more. */
  async finish(
    runId: string,
    leaseId: string,
    status: Exclude<RunStatus, 'running'>,
    summary: string,
    now = Date.now(),
  ): Promise<RunRecord> {
    return this.#headers.update(
      { jid: key(runId) },
      { status, summary, finishedAt: now, updatedAt: now, lease: undefined, expiresAt: this.#ttl(now) },
      this.#held(leaseId),
    );
  }

  #held(leaseId: string) {
    return {
      expression: '#status = :running AND #lease.#leaseId = :lease',
      names: { '#status': 'status', '#lease': 'lease', '#leaseId': 'leaseId' },
      values: { ':running': 'running', ':lease': leaseId },
    };
  }

  /** The minions a step targets, written once when it starts (a second write of a step is refused). */
  async putTargets(runId: string, step: number, targets: RunTargets, now = Date.now()): Promise<void> {
    const chunks = Math.max(1, Math.ceil(targets.minions.length / TARGET_CHUNK));
    for (let chunk = 0; chunk < chunks; chunk++) {
      await this.#items.put(
        {
          jid: key(runId),
          minionId: `t#${pad(step, 4)}#${pad(chunk, 4)}`,
          minions: targets.minions.slice(chunk * TARGET_CHUNK, (chunk + 1) * TARGET_CHUNK),
          ...(chunk === 0 && targets.skipped.length > 0 ? { skipped: targets.skipped } : {}),
          ...(chunk === 0 && targets.notConnected.length > 0 ? { notConnected: targets.notConnected } : {}),
          expiresAt: this.#ttl(now),
        },
        { expression: 'attribute_not_exists(minionId)' },
      );
    }
  }

  /**
   * Records a job before it is stored and sent: ConditionFailedError if that place (step and
   * sequence number) is taken, that is, another master drives the run now.
   */
  async putDispatch(runId: string, dispatch: Omit<RunDispatch, 'outcomes'>): Promise<RunDispatch> {
    await this.#items.put(
      {
        jid: key(runId),
        minionId: `d#${pad(dispatch.step, 4)}#${pad(dispatch.seq, 6)}`,
        job: dispatch.jid,
        minions: dispatch.minions,
        sentAt: dispatch.sentAt,
        sentBy: dispatch.sentBy,
        outcomes: {},
        expiresAt: this.#ttl(dispatch.sentAt),
      },
      { expression: 'attribute_not_exists(minionId)' },
    );
    return { ...dispatch, outcomes: {} };
  }

  /**
   * The outcomes of a dispatch's minions so far (the whole map: minion ids may hold dots, which an
   * update path cannot). They are facts of the returns table, so any master writes the same ones.
   */
  async setOutcomes(runId: string, step: number, seq: number, outcomes: Record<string, RunOutcome>): Promise<void> {
    await this.#items.update(
      { jid: key(runId), minionId: `d#${pad(step, 4)}#${pad(seq, 6)}` },
      { outcomes },
      { expression: 'attribute_exists(minionId)' },
    );
  }

  /**
   * Runs created within the job retention, newest first (at most `limit`): for listings, and for
   * the sweep that finds runs whose driver died (`status` running, lease lapsed).
   */
  async listRecent({ limit = 50, now = Date.now() }: { limit?: number; now?: number } = {}): Promise<RunRecord[]> {
    const items: RunRecord[] = [];
    const oldest = dayOf(now - this.#options.jobRetentionMs);
    for (let day = dayOf(now + 60_000); day >= oldest && items.length < limit; day = previousDay(day)) {
      let cursor: string | undefined;
      do {
        const page = await this.#headers.query(
          {
            IndexName: 'byDay',
            KeyConditionExpression: '#day = :day',
            ExpressionAttributeNames: { '#day': 'day' },
            ExpressionAttributeValues: { ':day': `runs#${day}` },
            ScanIndexForward: false,
          },
          { limit: limit - items.length, ...(cursor === undefined ? {} : { cursor }) },
        );
        items.push(...page.items);
        cursor = page.cursor;
      } while (cursor !== undefined && items.length < limit);
    }
    return items;
  }
}

function previousDay(day: string): string {
  return dayOf(Date.parse(day) - 86_400_000);
}
