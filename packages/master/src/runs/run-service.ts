import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { isPhoenixError, parseBatchSize, parseFailureLimit, PhoenixError } from '@phoenix/protocol';
import {
  ConditionFailedError,
  type LoadedRun,
  type RunLease,
  type RunRecord,
  type RunTargets,
  type Store,
} from '@phoenix/store';
import type { ClusterEvents } from '../events.js';
import { MasterErrors } from '../errors.js';
import type { JobService } from '../jobs.js';
import {
  leaseLost,
  runJobStep,
  selectTargets,
  type JobStepSpec,
  type RunContext,
  type RunDriver,
  type RunEnd,
} from './job-step.js';
import {
  changesKeys,
  orchestrationSpec,
  type OrchestrationCompiler,
  type OrchestrationRequest,
} from './orchestration.js';
import type { LowChunk } from '@phoenix/state';

export interface RunServiceOptions {
  readonly masterId: string;
  readonly store: Store;
  readonly jobs: JobService;
  readonly events: ClusterEvents;
  readonly log: Logger;
  /** A driver's lease lasts this long unless renewed (a third of it): how long a dead driver's run waits. */
  readonly leaseMs: number;
  /** How often this master looks for runs whose driver's lease lapsed. */
  readonly sweepMs: number;
  readonly now?: () => number;
  /** Orchestrations: the compiler of their SLS, and the driver of their steps. */
  readonly orchestrations?: { readonly compiler: OrchestrationCompiler; readonly driver: RunDriver };
}

/** An orchestration as submitted (`phoenix orchestrate NAME pillar=… test=True`). */
export interface OrchestrationRunRequest extends OrchestrationRequest {
  submitter: string;
  /** The submitter's API role: steps that change keys need an admin. Undefined: the master itself. */
  role?: 'read' | 'operate' | 'admin';
}

/** A batch rollout as submitted: a job step with its window, failure limit and wait. */
export interface BatchRunRequest extends JobStepSpec {
  batch: NonNullable<JobStepSpec['batch']>;
  submitter: string;
}

/** A lease is not trusted within this share of its length before it ends: a clock or a renewal may be late. */
const LEASE_MARGIN = 0.2;

/**
 * Runs on this master: it creates them (batch rollouts, orchestrations), drives each under a lease
 * that it renews, and takes over the runs of masters that died (their lease lapsed), resuming each
 * where the table says it stopped. One master drives a run at a time; every master shows it.
 */
export class RunService {
  readonly #o: RunServiceOptions;
  readonly #now: () => number;
  /** The runs this master drives, by id: aborting stops the driver (the lease is lost, or the master stops). */
  readonly #driving = new Map<string, { controller: AbortController; leaseId: string; done: Promise<void> }>();
  #sweep: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: RunServiceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#sweep = setInterval(
      () => void this.sweep().catch((err: unknown) => this.#o.log.warn({ err }, 'run sweep failed')),
      this.#o.sweepMs,
    );
    this.#sweep.unref();
  }

  /** Stops driving; each lease this master held is let go at once, so another master resumes its run now. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweep);
    const driving = [...this.#driving.entries()];
    for (const [, { controller }] of driving) controller.abort();
    await Promise.all(driving.map(([, { done }]) => done));
    await Promise.all(
      driving.map(([runId, { leaseId }]) =>
        this.#o.store.runs.renew(runId, leaseId, this.#now(), this.#now()).catch(() => undefined),
      ),
    );
  }

  /**
   * Makes a batch rollout and starts it: everything is checked first (the batch size, the failure
   * limit, the target, the arguments), so bad input changes nothing and sends nothing.
   */
  async submitBatch(request: BatchRunRequest): Promise<{ run: RunRecord; targets: RunTargets }> {
    parseBatchSize(request.batch.size);
    if (request.batch.maxFailures !== undefined) parseFailureLimit(request.batch.maxFailures);
    this.#o.jobs.checkArguments(request);
    const { submitter, ...step } = request;
    const targets = await selectTargets(this.#o.jobs, step);
    if (targets.minions.length + targets.notConnected.length + targets.skipped.length === 0) {
      throw new PhoenixError(
        MasterErrors.PHX_JOB_NO_MINIONS,
        'no accepted minion matches the target; nothing was run',
        {
          details: { target: request.target, targetType: request.targetType },
        },
      );
    }
    const target = typeof request.target === 'string' ? request.target : request.target.join(',');
    const { run, lease } = await this.#create({
      kind: 'batch',
      title: `${request.fun} on ${target} (batch ${request.batch.size})`,
      submitter,
      spec: { step },
    });
    await this.#o.store.runs.putTargets(run.runId, 0, targets, this.#now());
    this.#o.log.info(
      { audit: 'run', runId: run.runId, submitter, fun: request.fun, target, batch: request.batch },
      'batch run submitted',
    );
    this.#drive({ run, targets: new Map([[0, targets]]), dispatches: new Map() }, lease);
    return { run, targets };
  }

  /**
   * Renders and checks an orchestration, then starts it: an SLS that does not render, a step with
   * an unknown function or argument, a requisite cycle are PHX_ORCHESTRATION_INVALID and nothing is
   * stored or run. Steps that change keys need an admin.
   */
  async submitOrchestration(request: OrchestrationRunRequest): Promise<{ run: RunRecord; chunks: LowChunk[] }> {
    const orchestrations = this.#o.orchestrations;
    if (orchestrations === undefined)
      throw new PhoenixError(MasterErrors.PHX_API_NOT_FOUND, 'this master runs no orchestrations');
    const { chunks } = await orchestrations.compiler.compile(request);
    if (request.role !== undefined && request.role !== 'admin' && changesKeys(chunks)) {
      throw new PhoenixError(
        MasterErrors.PHX_API_FORBIDDEN,
        `orchestration ${request.name} accepts, rejects or deletes keys: that needs the admin role; nothing ran`,
      );
    }
    const { run, lease } = await this.#create({
      kind: 'orchestration',
      title: request.name,
      submitter: request.submitter,
      spec: orchestrationSpec(request, chunks, request.role),
    });
    this.#o.log.info(
      { audit: 'run', runId: run.runId, submitter: request.submitter, orchestration: request.name, test: request.test },
      'orchestration submitted',
    );
    this.#drive({ run, targets: new Map(), dispatches: new Map() }, lease);
    return { run, chunks };
  }

  async #create(
    fields: Pick<RunRecord, 'kind' | 'title' | 'submitter' | 'spec'>,
  ): Promise<{ run: RunRecord; lease: RunLease }> {
    const now = this.#now();
    const lease: RunLease = { holder: this.#o.masterId, leaseId: randomUUID(), until: now + this.#o.leaseMs };
    const run = await this.#o.store.runs.create(
      { ...fields, runId: this.#o.jobs.newJid(now), originMaster: this.#o.masterId },
      lease,
      now,
    );
    this.#o.events.emit('run/started', {
      runId: run.runId,
      kind: run.kind,
      title: run.title,
      submitter: run.submitter,
    });
    return { run, lease };
  }

  /** A run with its items, from the table (any master answers). PHX_API_NOT_FOUND for an unknown id. */
  async get(runId: string): Promise<LoadedRun> {
    const loaded = await this.#o.store.runs.load(runId);
    if (loaded === undefined) throw new PhoenixError(MasterErrors.PHX_API_NOT_FOUND, `no run ${runId}`);
    return loaded;
  }

  list(limit: number): Promise<RunRecord[]> {
    return this.#o.store.runs.listRecent({ limit, now: this.#now() });
  }

  /** Takes over every running run whose lease lapsed (its master died or stopped) and resumes it. */
  async sweep(): Promise<void> {
    if (this.#stopped) return;
    const now = this.#now();
    for (const run of await this.#o.store.runs.listRecent({ limit: 500, now })) {
      if (run.status !== 'running' || run.lease === undefined || run.lease.until > now) continue;
      if (this.#driving.has(run.runId)) continue;
      const lease: RunLease = { holder: this.#o.masterId, leaseId: randomUUID(), until: now + this.#o.leaseMs };
      try {
        await this.#o.store.runs.takeOver(run, run.lease, lease, now);
      } catch (err) {
        if (err instanceof ConditionFailedError) continue; // another master took it first
        throw err;
      }
      this.#o.events.emit('run/taken-over', { runId: run.runId, from: run.lease.holder, kind: run.kind });
      const loaded = await this.#o.store.runs.load(run.runId);
      if (loaded !== undefined) this.#drive(loaded, lease);
    }
  }

  /** Drives a run this master holds, renewing its lease, until it ends or the lease is lost. */
  #drive(loaded: LoadedRun, lease: RunLease): void {
    const { runId } = loaded.run;
    const controller = new AbortController();
    let heldUntil = lease.until;
    const log = this.#o.log.child({ runId });
    const renew = async (): Promise<void> => {
      const until = this.#now() + this.#o.leaseMs;
      try {
        await this.#o.store.runs.renew(runId, lease.leaseId, until, this.#now());
        heldUntil = until;
      } catch (err) {
        if (err instanceof ConditionFailedError) controller.abort(leaseLost({ runId }, 'the lease is held elsewhere'));
        else log.warn({ err }, 'could not renew the run lease');
      }
    };
    const renewal = setInterval(() => void renew(), Math.max(100, Math.floor(this.#o.leaseMs / 3)));
    const ctx: RunContext = {
      runId,
      leaseId: lease.leaseId,
      masterId: this.#o.masterId,
      submitter: `${loaded.run.submitter} (run ${runId})`,
      runs: this.#o.store.runs,
      jobs: this.#o.jobs,
      signal: controller.signal,
      assertHeld: () => {
        if (controller.signal.aborted) throw leaseLost({ runId }, 'this master stopped driving it');
        if (this.#now() >= heldUntil - this.#o.leaseMs * LEASE_MARGIN) {
          throw leaseLost({ runId }, 'the lease could not be renewed in time');
        }
      },
      now: this.#now,
      log,
    };
    const done = this.#execute(ctx, loaded, lease)
      .catch((err: unknown) => {
        if (controller.signal.aborted || isPhoenixError(err, MasterErrors.PHX_RUN_LEASE_LOST)) {
          log.info({ reason: err instanceof Error ? err.message : String(err) }, 'stopped driving the run');
          return;
        }
        log.error({ err }, 'the run failed on an unexpected error');
        return this.#o.store.runs
          .finish(
            runId,
            lease.leaseId,
            'failed',
            `the run failed: ${err instanceof Error ? err.message : String(err)}`,
            this.#now(),
          )
          .then(() => undefined)
          .catch(() => undefined);
      })
      .finally(() => {
        clearInterval(renewal);
        this.#driving.delete(runId);
      });
    this.#driving.set(runId, { controller, leaseId: lease.leaseId, done });
  }

  async #execute(ctx: RunContext, loaded: LoadedRun, lease: RunLease): Promise<void> {
    const { run } = loaded;
    let end: RunEnd;
    if (run.kind === 'batch') {
      end = await driveBatch(ctx, loaded);
    } else {
      const driver = this.#o.orchestrations?.driver;
      if (driver === undefined)
        throw new PhoenixError(MasterErrors.PHX_MASTER_INTERNAL, `no driver for ${run.kind} runs`);
      end = await driver(ctx, loaded);
    }
    ctx.assertHeld();
    await this.#o.store.runs.finish(run.runId, lease.leaseId, end.status, end.summary, this.#now());
    this.#o.events.emit('run/finished', { runId: run.runId, kind: run.kind, status: end.status, summary: end.summary });
  }
}

/** A batch rollout: its one job step, then what it came to. */
async function driveBatch(ctx: RunContext, loaded: LoadedRun): Promise<RunEnd> {
  const spec = (loaded.run.spec as { step: JobStepSpec }).step;
  const result = await runJobStep(ctx, 0, spec, {
    ...(loaded.targets.has(0) ? { targets: loaded.targets.get(0) as RunTargets } : {}),
    dispatches: loaded.dispatches.get(0) ?? [],
  });
  const ran = result.outcomes.size - result.neverRan.filter((id) => result.outcomes.has(id)).length;
  const never = result.neverRan.length === 0 ? '' : `; never ran: ${result.neverRan.join(', ')}`;
  if (result.stopped) {
    return {
      status: 'stopped',
      summary: `stopped after ${result.failures} failures (at most ${result.allowance ?? 0} allowed); ${ran} ran${never}`,
    };
  }
  if (result.failures > 0 || result.neverRan.length > 0) {
    return { status: 'failed', summary: `${result.failures} of ${result.targets.minions.length} failed${never}` };
  }
  return { status: 'succeeded', summary: `${ran} of ${result.targets.minions.length} succeeded` };
}
