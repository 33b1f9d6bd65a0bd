import type { Logger } from 'pino';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CompleteLifecycleActionCommand, RecordLifecycleActionHeartbeatCommand } from '@aws-sdk/client-auto-scaling';
import { ConditionFailedError, type MinionRecord, type Store } from '@phoenix/store';
import type { ClusterEvents } from '../events.js';
import type { JobService, ReturnEvent } from '../jobs.js';

export interface HighstateOptions {
  masterId: string;
  leaseMs: number;
  heartbeatMs: number;
  timeoutMs: number;
  /** The lifecycle action after a failed first highstate, per group (ABANDON when unset). */
  onFailure: (group: string) => 'ABANDON' | 'CONTINUE';
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
  #sweep: NodeJS.Timeout | undefined;

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
  }

  stop(): void {
    clearInterval(this.#sweep);
  }

  async sweep(now = Date.now()): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.store.minions.listByKeyState('accepted', { limit: 500, cursor });
      for (const record of page.items) if (this.#due(record, now)) void this.consider(record.minionId);
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  /** Claims and runs the minion's first highstate if it is due and nobody else holds it. */
  async consider(minionId: string): Promise<void> {
    if (this.#running.has(minionId)) return;
    const record = await this.store.minions.get(minionId);
    if (record === undefined || !this.#due(record, Date.now())) return;
    this.#running.add(minionId);
    try {
      try {
        await this.store.minions.claimHighstate(minionId, this.options.masterId, this.options.leaseMs);
      } catch (err) {
        if (err instanceof ConditionFailedError) return; // another master holds it, or it is done
        throw err;
      }
      this.events.emit('highstate/claimed', { minionId });
      await this.#run(record);
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

  async #run(record: MinionRecord): Promise<void> {
    const { minionId } = record;
    const lifecycle = record.lifecycle as NonNullable<MinionRecord['lifecycle']>;
    const deadline = Date.now() + this.options.timeoutMs;
    const keepAlive = setInterval(() => void this.#keepAlive(record), this.options.heartbeatMs);
    try {
      // A claim taken over from a master that died mid-run adopts its job: the highstate runs once.
      const adopted = record.highstate?.jid;
      let jid: string;
      if (adopted !== undefined) {
        jid = adopted;
        this.events.emit('highstate/adopted', { minionId, jid });
      } else {
        // The key was just accepted: give the minion a moment to connect before it is sent the job.
        await this.#waitForPresence(minionId, Math.min(deadline, Date.now() + 30_000));
        const job = await this.jobs.submit({
          target: [minionId],
          targetType: 'list',
          fun: 'state.highstate',
          args: [],
          kwargs: {},
          submitter: `reactor@${this.options.masterId}`,
        });
        jid = job.jid;
        this.events.emit('highstate/started', { minionId, jid });
      }
      await this.store.minions.recordHighstateJob(minionId, this.options.masterId, jid);
      const ret = await this.#waitForReturn(jid, minionId, deadline);
      const success = ret?.success === true;
      await this.store.minions.finishHighstate(minionId, this.options.masterId, {
        result: success ? 'success' : 'failure',
        jid,
      });
      this.events.emit('highstate/finished', {
        minionId,
        jid,
        result: success ? 'success' : ret === undefined ? 'timeout' : 'failure',
      });
      const action = success ? 'CONTINUE' : this.options.onFailure(lifecycle.group);
      const held = lifecycle.state === 'launching' || lifecycle.state === 'warming';
      if (lifecycle.token !== undefined && lifecycle.hookName !== undefined && held) {
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
        await this.store.minions.setLifecycle(minionId, { ...lifecycle, state: next });
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  async #keepAlive(record: MinionRecord): Promise<void> {
    const lifecycle = record.lifecycle;
    try {
      await this.store.minions.renewHighstate(record.minionId, this.options.masterId, this.options.leaseMs);
      if (lifecycle?.token !== undefined && lifecycle.hookName !== undefined) {
        await this.autoscaling.send(
          new RecordLifecycleActionHeartbeatCommand({
            AutoScalingGroupName: lifecycle.group,
            LifecycleHookName: lifecycle.hookName,
            LifecycleActionToken: lifecycle.token,
            InstanceId: record.minionId,
          }),
        );
      }
    } catch (err) {
      this.log.warn({ err, minionId: record.minionId }, 'could not renew the first-highstate claim');
    }
  }

  async #waitForPresence(minionId: string, until: number): Promise<void> {
    while (Date.now() < until) {
      const record = await this.store.minions.get(minionId);
      if (record?.connectedMaster !== undefined) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** The minion's return, heard live or found in the table (it may be stored by another master). */
  #waitForReturn(jid: string, minionId: string, deadline: number): Promise<ReturnEvent | undefined> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (value: ReturnEvent | undefined): void => {
        if (done) return;
        done = true;
        stopListening();
        clearInterval(poll);
        clearTimeout(timer);
        resolve(value);
      };
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
    });
  }
}
