import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CompleteLifecycleActionCommand, RecordLifecycleActionHeartbeatCommand } from '@aws-sdk/client-auto-scaling';
import { ConditionFailedError, type HighstateClaim, type MinionRecord, type Store } from '@phoenix/store';
import type { ClusterEvents } from '../events.js';
import type { JobService, ReturnEvent } from '../jobs.js';

export interface HighstateOptions {
  masterId: string;
  leaseMs: number;
  heartbeatMs: number;
  timeoutMs: number;
  /** The lifecycle action after a failed first highstate, per group (ABANDON when unset). */
  onFailure: (group: string) => 'ABANDON' | 'CONTINUE';
  /** How long a new key waits for a rival before auto-accept (reactor.attestation.contestWindowMs). */
  contestWindowMs?: number;
}

/** Lifecycle states whose highstate may be due: a launch's, or a warm-pool preparation's (`warming`). */
const UNFINISHED = new Set(['warming', 'launching', 'in-service']);

/**
 * Runs each launched instance's first highstate exactly once in the cluster. Every master may try;
 * a conditional write with a lease decides who runs it, and the winner renews the lease while the
 * job runs — if it dies, the lease lapses and the next master to look takes over. The instance's
 * lifecycle action is heartbeated meanwhile and completed at the end: CONTINUE on success, the
 * group's choice (ABANDON by default) on failure.
 */
export class HighstateCoordinator {
  readonly #running = new Set<string>();
  /** Contested launches this master has announced it holds. */
  readonly #held = new Set<string>();
  #sweep: NodeJS.Timeout | undefined;
  #hold: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly jobs: JobService,
    private readonly autoscaling: AutoScalingClient,
    private readonly options: HighstateOptions,
    private readonly events: ClusterEvents,
    private readonly log: Logger,
  ) {}

  /** Looks again, every half lease, for first highstates whose claimant went away. */
  start(): void {
    this.#sweep = setInterval(() => void this.sweep().catch(() => undefined), Math.max(500, this.options.leaseMs / 2));
    this.#sweep.unref();
    this.#hold = setInterval(() => void this.holdContested().catch(() => undefined), this.options.heartbeatMs);
    this.#hold.unref();
  }

  stop(): void {
    clearInterval(this.#sweep);
    clearInterval(this.#hold);
  }

  /**
   * A launch whose id more than one key claims waits for an operator, not for the hook's timeout:
   * its lifecycle action is heartbeated (by every master: heartbeats are idempotent) until an
   * operator accepts a key, and then the first highstate runs as usual. So is a launch whose new
   * key waits out the contest window: Phoenix is the one waiting, and the hook's timeout may be
   * shorter than the window.
   */
  async holdContested(now = Date.now()): Promise<void> {
    const window = this.options.contestWindowMs ?? 0;
    let cursor: string | undefined;
    do {
      const page = await this.store.minions.listByKeyState('pending', { limit: 500, cursor });
      for (const record of page.items) {
        const lifecycle = record.lifecycle;
        const waiting =
          record.keyUpdatedAt !== undefined && now - record.keyUpdatedAt < window + this.options.heartbeatMs;
        if ((record.contested === undefined && !waiting) || lifecycle?.state !== 'launching') continue;
        if (lifecycle.token === undefined || lifecycle.hookName === undefined) continue;
        try {
          await this.autoscaling.send(
            new RecordLifecycleActionHeartbeatCommand({
              AutoScalingGroupName: lifecycle.group,
              LifecycleHookName: lifecycle.hookName,
              LifecycleActionToken: lifecycle.token,
              InstanceId: record.minionId,
            }),
          );
          if (record.contested !== undefined && !this.#held.has(record.minionId)) {
            this.#held.add(record.minionId);
            this.events.emit('lifecycle/held', { minionId: record.minionId, group: lifecycle.group, why: 'contested' });
          }
        } catch (err) {
          this.log.warn({ err, minionId: record.minionId }, 'could not hold a contested launch');
        }
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  async sweep(now = Date.now()): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.store.minions.listByKeyState('accepted', { limit: 500, cursor });
      for (const record of page.items) if (this.#due(record, now)) void this.consider(record.minionId);
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /**
   * Claims and runs the minion's first highstate if it is due and nobody else holds it. Once per
   * instance on this master at a time (the acceptance and the launch message that caused it, or the
   * sweep, may ask together), and once in the cluster: the claim is per attempt, so this master's
   * own second attempt is refused by the table too.
   */
  /** `row`: the minion's row as a write just returned it, if the caller has it (no read then). */
  async consider(minionId: string, row?: MinionRecord): Promise<void> {
    // Taken before the first await: a second caller must not get past this line meanwhile.
    if (this.#running.has(minionId)) return;
    this.#running.add(minionId);
    try {
      const record = row ?? (await this.store.minions.get(minionId));
      if (record === undefined || !this.#due(record, Date.now())) return;
      const claim: HighstateClaim = { masterId: this.options.masterId, claimId: randomUUID() };
      // A job recorded by a claimant whose lease lapsed is adopted, never run a second time.
      const adopt = record.highstate?.jid;
      let claimed: MinionRecord;
      try {
        claimed = await this.store.minions.claimHighstate(
          minionId,
          claim,
          this.options.leaseMs,
          adopt === undefined ? {} : { jid: adopt },
        );
      } catch (err) {
        if (err instanceof ConditionFailedError) return; // another attempt holds it, or it is done
        throw err;
      }
      this.events.emit('highstate/claimed', { minionId });
      await this.#run(claimed, claim);
    } catch (err) {
      this.log.error({ err, minionId }, 'first highstate failed to run');
    } finally {
      this.#running.delete(minionId);
    }
  }

  #due(record: MinionRecord, now: number): boolean {
    if (record.keyState !== 'accepted' || record.lifecycle === undefined) return false;
    if (!UNFINISHED.has(record.lifecycle.state) || record.highstate?.finishedAt !== undefined) return false;
    return record.highstate?.leaseUntil === undefined || record.highstate.leaseUntil <= now;
  }

  async #run(record: MinionRecord, claim: HighstateClaim): Promise<void> {
    const { minionId } = record;
    const lifecycle = record.lifecycle as NonNullable<MinionRecord['lifecycle']>;
    const deadline = Date.now() + this.options.timeoutMs;
    // Aborted when a renewal finds the claim gone: this attempt stops at once and decides nothing.
    const lost = new AbortController();
    const keepAlive = setInterval(() => void this.#keepAlive(record, claim, lost), this.options.heartbeatMs);
    try {
      let jid: string;
      const adopted = record.highstate?.jid;
      if (adopted !== undefined) {
        jid = adopted;
        this.events.emit('highstate/adopted', { minionId, jid });
        // The master it was sent through may have died before it reached the minion: sent again
        // wherever the minion is (it runs a jid once, so a minion that has it carries on).
        await this.jobs
          .redispatch(jid)
          .catch((err: unknown) => this.log.warn({ err, minionId, jid }, 'could not send the adopted job again'));
      } else {
        // The key was just accepted: give the minion a moment to connect before it is sent the job.
        await this.#waitForPresence(minionId, Math.min(deadline, Date.now() + 30_000), lost.signal);
        if (lost.signal.aborted) return this.#lost(minionId);
        const submitted = await this.#submit(minionId, claim, deadline);
        if (submitted === undefined) return this.#lost(minionId);
        jid = submitted;
      }
      let ret = await this.#waitForReturn(jid, minionId, deadline, lost.signal);
      // Another state run held the minion (Salt's "already running" answer): not this highstate's
      // result. The job queues behind a run in progress, so this is only a minion that would not wait.
      while (ret !== undefined && isBusyRefusal(ret) && Date.now() < deadline && !lost.signal.aborted) {
        this.log.info({ minionId, jid }, 'the minion was busy with another state run; asking again');
        await abortableSleep(BUSY_RETRY_MS, lost.signal);
        const next: string | undefined = lost.signal.aborted
          ? undefined
          : await this.#submit(minionId, claim, deadline, jid);
        if (next === undefined) break;
        jid = next;
        ret = await this.#waitForReturn(jid, minionId, deadline, lost.signal);
      }
      if (lost.signal.aborted) return this.#lost(minionId);
      const success = ret?.success === true && !isBusyRefusal(ret);
      try {
        await this.store.minions.finishHighstate(minionId, claim, { result: success ? 'success' : 'failure', jid });
      } catch (err) {
        if (err instanceof ConditionFailedError) return this.#lost(minionId);
        throw err;
      }
      this.events.emit('highstate/finished', {
        minionId,
        jid,
        result: success ? 'success' : ret === undefined ? 'timeout' : 'failure',
      });
      const action = success ? 'CONTINUE' : this.options.onFailure(lifecycle.group);
      const held = lifecycle.state === 'launching' || lifecycle.state === 'warming';
      if (lifecycle.token !== undefined && lifecycle.hookName !== undefined && held) {
        // Recorded before Auto Scaling hears it: its termination of the instance comes after.
        if (action === 'ABANDON') {
          // History only: its failure must never keep the ABANDON from Auto Scaling.
          await this.store.minions
            .noteLifecycle(minionId, 'abandoned', Date.now(), { by: this.options.masterId, jid })
            .catch((err: unknown) => this.log.warn({ err, minionId }, 'could not record the abandoned launch'));
        }
        await this.autoscaling.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: lifecycle.group,
            LifecycleHookName: lifecycle.hookName,
            LifecycleActionToken: lifecycle.token,
            InstanceId: minionId,
            LifecycleActionResult: action,
          }),
        );
        this.events.emit('lifecycle/completed', { minionId, group: lifecycle.group, action });
      }
      if (action === 'CONTINUE') {
        // A warm-pool instance is prepared, not in service: it stays in the pool until it is needed.
        const next = lifecycle.state === 'warming' ? 'warmed' : 'in-service';
        await this.store.minions.setLifecycle(
          minionId,
          { ...lifecycle, state: next },
          Date.now(),
          this.options.masterId,
        );
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  /**
   * Sends the minion its first highstate and records the job under the claim (replacing `previous`,
   * a job the minion refused as busy). The job waits behind a state run in progress (Salt's
   * queue=True) and lasts until the deadline. Undefined when the claim was lost meanwhile.
   */
  async #submit(
    minionId: string,
    claim: HighstateClaim,
    deadline: number,
    previous?: string,
  ): Promise<string | undefined> {
    const job = await this.jobs.submit({
      target: [minionId],
      targetType: 'list',
      fun: 'state.highstate',
      args: [],
      kwargs: { queue: true },
      submitter: `reactor@${this.options.masterId}`,
      timeoutMs: Math.max(1_000, deadline - Date.now()),
    });
    try {
      await this.store.minions.recordHighstateJob(minionId, claim, job.jid, previous);
    } catch (err) {
      if (err instanceof ConditionFailedError) return undefined;
      throw err;
    }
    this.events.emit('highstate/started', { minionId, jid: job.jid });
    return job.jid;
  }

  #lost(minionId: string): void {
    this.log.warn({ minionId }, 'the first-highstate claim was lost; the master holding it now decides');
  }

  async #keepAlive(record: MinionRecord, claim: HighstateClaim, lost: AbortController): Promise<void> {
    if (lost.signal.aborted) return;
    const lifecycle = record.lifecycle;
    try {
      await this.store.minions.renewHighstate(record.minionId, claim, this.options.leaseMs);
    } catch (err) {
      if (err instanceof ConditionFailedError) {
        lost.abort();
        return;
      }
      this.log.warn({ err, minionId: record.minionId }, 'could not renew the first-highstate claim');
      return;
    }
    if (lifecycle?.token === undefined || lifecycle.hookName === undefined) return;
    try {
      await this.autoscaling.send(
        new RecordLifecycleActionHeartbeatCommand({
          AutoScalingGroupName: lifecycle.group,
          LifecycleHookName: lifecycle.hookName,
          LifecycleActionToken: lifecycle.token,
          InstanceId: record.minionId,
        }),
      );
    } catch (err) {
      this.log.warn({ err, minionId: record.minionId }, 'could not heartbeat the lifecycle action');
    }
  }

  async #waitForPresence(minionId: string, until: number, signal: AbortSignal): Promise<void> {
    while (Date.now() < until && !signal.aborted) {
      const record = await this.store.minions.get(minionId);
      if (record?.connectedMaster !== undefined) return;
      await abortableSleep(200, signal);
    }
  }

  /** The minion's return, heard live or found in the table (it may be stored by another master). */
  #waitForReturn(
    jid: string,
    minionId: string,
    deadline: number,
    signal: AbortSignal,
  ): Promise<ReturnEvent | undefined> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (value: ReturnEvent | undefined): void => {
        if (done) return;
        done = true;
        stopListening();
        clearInterval(poll);
        clearTimeout(timer);
        signal.removeEventListener('abort', abandon);
        resolve(value);
      };
      const abandon = (): void => finish(undefined);
      signal.addEventListener('abort', abandon);
      const stopListening = this.jobs.listen(jid, (event) => {
        if (event.minionId === minionId) finish(event);
      });
      const poll = setInterval(() => {
        void this.jobs
          .returns(jid)
          .then((returns) => {
            const found = returns.find((r) => r.minionId === minionId);
            if (found) finish(found);
          })
          .catch(() => undefined);
      }, 1_000);
      const timer = setTimeout(() => finish(undefined), Math.max(0, deadline - Date.now()));
      if (signal.aborted) abandon();
    });
  }
}

/** How long a first highstate refused as busy waits before it is sent again. */
const BUSY_RETRY_MS = 2_000;

/**
 * Salt's answer to a state run while another holds the minion: retcode 1 and a list naming the run
 * in progress. It says nothing about this highstate.
 */
export function isBusyRefusal(ret: Pick<ReturnEvent, 'retcode' | 'ret'>): boolean {
  return (
    ret.retcode === 1 &&
    Array.isArray(ret.ret) &&
    ret.ret.length === 1 &&
    typeof ret.ret[0] === 'string' &&
    /^The function ".+" is running as PID \d+ and was started at .+ with jid \d+$/.test(ret.ret[0])
  );
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
    if (signal.aborted) done();
  });
}
