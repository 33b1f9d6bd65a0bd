import type { Logger } from 'pino';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CompleteLifecycleActionCommand } from '@aws-sdk/client-auto-scaling';
import type { LifecycleEvent } from '@phoenix/protocol';
import type { Store } from '@phoenix/store';
import type { ReactorConfig } from '../config.js';
import type { ClusterEvents } from '../events.js';
import type { KeyRegistry } from '../keys.js';
import type { AutoAcceptor } from './auto-accept.js';
import type { HighstateCoordinator } from './highstate.js';

/** A message the reactor cannot act on: it goes to the dead-letter queue, never retried forever. */
export class UnusableLifecycleMessage extends Error {}

/**
 * What each lifecycle event means for the cluster. Every step is stored before the message is
 * deleted, and every step is idempotent and order-tolerant: lifecycle rows only move forward, keys
 * are deleted once, and completing a lifecycle action twice is refused by Auto Scaling harmlessly.
 */
export class LifecycleReactor {
  constructor(
    private readonly config: ReactorConfig,
    private readonly store: Store,
    private readonly keys: KeyRegistry,
    private readonly autoAccept: AutoAcceptor,
    private readonly highstate: HighstateCoordinator,
    private readonly autoscaling: AutoScalingClient,
    private readonly events: ClusterEvents,
    private readonly log: Logger,
  ) {}

  async handle(event: LifecycleEvent): Promise<void> {
    if (event.kind === 'test') return;
    const group = this.config.groups[event.group];
    if (group === undefined) throw new UnusableLifecycleMessage(`unknown auto-scaling group "${event.group}"`);
    const { instanceId } = event;
    if (group.role === 'masters') return this.#master(event);

    if (event.kind === 'hook' && event.transition === 'launching') {
      const stored = await this.store.minions.setLifecycle(instanceId, {
        state: 'launching',
        group: event.group,
        hookName: event.hookName,
        token: event.token,
        launchedAt: Date.now(),
      });
      if (stored === undefined) return; // a later step (its termination) was already recorded
      this.events.emit('lifecycle/launching', { minionId: instanceId, group: event.group });
      // Key-before-event: a key that was waiting for this launch is accepted now.
      await this.autoAccept.consider(instanceId);
      void this.highstate.consider(instanceId);
      return;
    }
    if (event.kind === 'notification' && event.event === 'launched') {
      const existing = await this.store.minions.get(instanceId);
      // With a launching hook the first highstate marks it in service; without one, this is the launch.
      if (existing?.lifecycle === undefined) {
        await this.store.minions.setLifecycle(instanceId, {
          state: 'in-service',
          group: event.group,
          launchedAt: Date.now(),
        });
        this.events.emit('lifecycle/launched', { minionId: instanceId, group: event.group });
        await this.autoAccept.consider(instanceId);
        void this.highstate.consider(instanceId);
      }
      return;
    }
    if (event.kind === 'hook' && event.transition === 'terminating') {
      await this.store.minions.setLifecycle(instanceId, {
        state: 'terminating',
        group: event.group,
        hookName: event.hookName,
        token: event.token,
      });
      this.events.emit('lifecycle/terminating', { minionId: instanceId, group: event.group });
      await this.#forget(instanceId, event.group);
      await this.#complete(event.group, event.hookName, event.token, instanceId, 'CONTINUE');
      return;
    }
    // The instance is gone (terminated, or its launch failed): its key goes with it.
    await this.#forget(instanceId, event.group);
  }

  async #forget(instanceId: string, group: string): Promise<void> {
    if (await this.keys.deleteOne(instanceId)) this.events.emit('key/deleted', { minionId: instanceId, by: 'reactor' });
    await this.store.minions.setLifecycle(instanceId, { state: 'terminated', group });
    this.events.emit('lifecycle/terminated', { minionId: instanceId, group });
  }

  /** Masters need no highstate: they proceed at once; a leaving master's row is marked at once. */
  async #master(event: Exclude<LifecycleEvent, { kind: 'test' }>): Promise<void> {
    if (event.kind !== 'hook') return;
    if (event.transition === 'terminating') {
      const marked = await this.store.masters.markDraining(event.instanceId);
      this.events.emit('master/terminating', { masterId: event.instanceId, marked });
    }
    await this.#complete(event.group, event.hookName, event.token, event.instanceId, 'CONTINUE');
  }

  async #complete(
    group: string,
    hookName: string,
    token: string,
    instanceId: string,
    result: 'CONTINUE' | 'ABANDON',
  ): Promise<void> {
    try {
      await this.autoscaling.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: group,
          LifecycleHookName: hookName,
          LifecycleActionToken: token,
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
