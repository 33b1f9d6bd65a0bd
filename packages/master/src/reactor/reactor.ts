import type { Logger } from 'pino';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import { lifecycleStep, type LifecycleEvent, type LifecycleStep } from '@phoenix/protocol';
import type { Lifecycle, MinionRecord, Store } from '@phoenix/store';
import type { ReactorConfig } from '../config.js';
import type { ClusterEvents } from '../events.js';
import type { KeyRegistry } from '../keys.js';
import type { AutoAcceptor } from './auto-accept.js';
import { checkAgainstGroup, type GroupMembership } from './group-check.js';
import type { HighstateCoordinator } from './highstate.js';

/** What became of a message: acted on, or ignored for a reason (then deleted, never dead-lettered). */
export type LifecycleOutcome = { acted: true } | { acted: false; ignored: string };

type InstanceEvent = Extract<LifecycleEvent, { kind: 'hook' | 'notification' }>;

const IN_WARM_POOL: ReadonlySet<Lifecycle['state']> = new Set(['warming', 'warmed']);
const NOT_YET_AN_INSTANCE: ReadonlySet<Lifecycle['state']> = new Set(['launching', 'warming']);

/**
 * Whether a row still `launching` (or `warming`) is old enough to be checked against the group:
 * one whose instance never came to be, or vanished without a termination message, would
 * otherwise stay launching forever.
 */
export function launchOverdue(record: MinionRecord, now: number, expiryMs: number): boolean {
  const lifecycle = record.lifecycle;
  if (lifecycle === undefined || !NOT_YET_AN_INSTANCE.has(lifecycle.state)) return false;
  return (lifecycle.launchedAt ?? lifecycle.updatedAt) + expiryMs <= now;
}

/**
 * What each lifecycle event means for the cluster. Nothing is done before the Auto Scaling API
 * confirms the message (the instance is in that group, making that move); what is done is stored
 * before the message is deleted, and every step is idempotent and order-tolerant: lifecycle rows
 * only move forward (the warm pool's round trips are conditional writes of their own), keys are
 * deleted once, and completing a lifecycle action twice is refused by Auto Scaling harmlessly.
 */
export class LifecycleReactor {
  #sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: ReactorConfig,
    private readonly store: Store,
    private readonly keys: KeyRegistry,
    private readonly autoAccept: AutoAcceptor,
    private readonly highstate: HighstateCoordinator,
    private readonly membership: GroupMembership,
    private readonly autoscaling: AutoScalingClient,
    private readonly events: ClusterEvents,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Looks for overdue launching rows now and then (every half expiry); every master may, the writes are idempotent. */
  start(): void {
    const every = Math.max(1_000, Math.floor(this.config.launchingExpiryMs / 2));
    this.#sweep = setInterval(() => {
      this.expireUnlaunched().catch((err: unknown) =>
        this.log.warn({ err }, 'could not check the launching rows against their groups'),
      );
    }, every);
    this.#sweep.unref();
  }

  stop(): void {
    clearInterval(this.#sweep);
  }

  async handle(event: LifecycleEvent): Promise<LifecycleOutcome> {
    if (event.kind === 'test') return { acted: false, ignored: 'a test notification' };
    if (event.kind === 'other') return { acted: false, ignored: `"${event.what}" is about no instance's lifecycle` };
    const group = this.config.groups[event.group];
    if (group === undefined) return { acted: false, ignored: `unknown auto-scaling group "${event.group}"` };
    const step = lifecycleStep(event);
    const [listed, record] = await Promise.all([
      this.membership.describe(event.instanceId),
      this.store.minions.get(event.instanceId),
    ]);
    const check = checkAgainstGroup(step, event, listed, record?.lifecycle?.group);
    if (!check.ok) return { acted: false, ignored: check.reason };
    if (group.role === 'masters') await this.#master(event, step, group.launchingHook !== undefined);
    else await this.#minion(event, step, group.warmPoolHighstate, record);
    return { acted: true };
  }

  /**
   * Rows still launching past `launchingExpiryMs` whose instance the group does not have are
   * forgotten as terminated instances are (key deleted, row marked terminated).
   */
  async expireUnlaunched(now = this.clock()): Promise<string[]> {
    const expired: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.minions.list({ limit: 500, ...(cursor === undefined ? {} : { cursor }) });
      for (const record of page.items) {
        const lifecycle = record.lifecycle;
        if (lifecycle === undefined || !launchOverdue(record, now, this.config.launchingExpiryMs)) continue;
        const listed = await this.membership.describe(record.minionId);
        if (listed?.group === lifecycle.group) continue; // it is an instance, just a slow one
        await this.#forget(record.minionId, lifecycle.group);
        this.events.emit('lifecycle/expired', {
          minionId: record.minionId,
          group: lifecycle.group,
          was: lifecycle.state,
          reason: `no instance of group ${lifecycle.group} after ${this.config.launchingExpiryMs} ms`,
        });
        expired.push(record.minionId);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    return expired;
  }

  async #minion(
    event: InstanceEvent,
    step: LifecycleStep,
    warmPoolHighstate: boolean,
    record: MinionRecord | undefined,
  ): Promise<void> {
    const { instanceId, group } = event;
    const action = event.kind === 'hook' ? { hookName: event.hookName, token: event.token } : undefined;
    const now = this.clock();
    switch (step) {
      case 'launch': {
        // A group notification behind a hook's message: the hook's first highstate marks it in service.
        const fromPool = record?.lifecycle !== undefined && IN_WARM_POOL.has(record.lifecycle.state);
        if (action === undefined && record?.lifecycle !== undefined && !fromPool) return;
        const lifecycle: Omit<Lifecycle, 'updatedAt'> = {
          state: action === undefined ? 'in-service' : 'launching',
          group,
          ...action,
          launchedAt: now,
        };
        if (fromPool && (await this.store.minions.leaveWarmPool(instanceId, lifecycle, now))) {
          this.events.emit('lifecycle/left-warm-pool', { minionId: instanceId, group });
        } else if (
          (await this.store.minions.setLifecycle(instanceId, lifecycle, now, this.events.masterId)) === undefined
        ) {
          return; // a later step (its termination) was already recorded
        }
        this.events.emit(action === undefined ? 'lifecycle/launched' : 'lifecycle/launching', {
          minionId: instanceId,
          group,
        });
        // Key-before-event: a key that was waiting for this launch is accepted now.
        await this.autoAccept.consider(instanceId);
        void this.highstate.consider(instanceId);
        return;
      }
      case 'warm': {
        // Prepared in the pool, never marked in service: its highstate there (if the group has
        // one) completes the action; otherwise the action is completed at once, and the key is
        // accepted whenever the minion enrols, in the pool or after it leaves.
        const stored = await this.store.minions.setLifecycle(
          instanceId,
          { state: warmPoolHighstate ? 'warming' : 'warmed', group, ...action, launchedAt: now },
          now,
          this.events.masterId,
        );
        if (stored === undefined) return;
        this.events.emit('lifecycle/warming', { minionId: instanceId, group, highstate: warmPoolHighstate });
        await this.autoAccept.consider(instanceId);
        if (warmPoolHighstate) void this.highstate.consider(instanceId);
        else if (action !== undefined) await this.#complete(group, action, instanceId, 'CONTINUE');
        return;
      }
      case 'return-to-pool': {
        if (await this.store.minions.returnToWarmPool(instanceId, { group, ...action }, now)) {
          this.events.emit('lifecycle/returned-to-warm-pool', { minionId: instanceId, group });
        }
        if (action !== undefined) await this.#complete(group, action, instanceId, 'CONTINUE');
        return;
      }
      case 'terminate': {
        if (action !== undefined) {
          await this.store.minions.setLifecycle(
            instanceId,
            { state: 'terminating', group, ...action },
            now,
            this.events.masterId,
          );
          this.events.emit('lifecycle/terminating', { minionId: instanceId, group });
        }
        // The instance is going or gone (terminated, or its launch failed): its key goes with it.
        await this.#forget(instanceId, group);
        if (action !== undefined) await this.#complete(group, action, instanceId, 'CONTINUE');
        return;
      }
    }
  }

  async #forget(instanceId: string, group: string): Promise<void> {
    if (await this.keys.deleteOne(instanceId)) this.events.emit('key/deleted', { minionId: instanceId, by: 'reactor' });
    await this.store.minions.setLifecycle(
      instanceId,
      { state: 'terminated', group },
      this.clock(),
      this.events.masterId,
    );
    this.events.emit('lifecycle/terminated', { minionId: instanceId, group });
  }

  /**
   * Masters need no highstate. A master's termination marks it draining, then proceeds. A master that completes its own launch
   * (the group names its launching hook) is let in here only if it already serves; otherwise it
   * does so itself once it does, and Auto Scaling holds it out of service until then.
   */
  async #master(event: InstanceEvent, step: LifecycleStep, completesOwnLaunch: boolean): Promise<void> {
    if (event.kind !== 'hook') return;
    if (step === 'terminate') {
      const marked = await this.store.masters.markDraining(event.instanceId);
      this.events.emit('master/terminating', { masterId: event.instanceId, marked });
    } else if (completesOwnLaunch) {
      const row = (await this.store.masters.list()).find((m) => m.masterId === event.instanceId);
      if (row?.status !== 'active') {
        this.log.info({ instanceId: event.instanceId }, 'a new master completes its own launch once it serves');
        return;
      }
    }
    await this.#complete(event.group, event, event.instanceId, 'CONTINUE');
  }

  async #complete(
    group: string,
    action: { hookName: string; token: string },
    instanceId: string,
    result: 'CONTINUE' | 'ABANDON',
  ): Promise<void> {
    try {
      await this.autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: group,
          LifecycleHookName: action.hookName,
          LifecycleActionToken: action.token,
          InstanceId: instanceId,
          LifecycleActionResult: result,
        }),
      );
      this.events.emit('lifecycle/completed', { minionId: instanceId, group, action: result });
    } catch (err) {
      // A redelivered message finds the action already completed: Auto Scaling says so; that is success.
      if ((err as { name?: string }).name === 'ValidationError') {
        this.log.info({ instanceId, err: (err as Error).message }, 'lifecycle action already completed');
        return;
      }
      throw err;
    }
  }
}
