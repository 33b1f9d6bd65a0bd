import type { Logger } from 'pino';
import { DescribeAutoScalingInstancesCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { isPhoenixError, verifyIdentityDocument } from '@phoenix/protocol';
import type { MinionRecord, Store } from '@phoenix/store';
import type { ClusterEvents } from '../events.js';
import type { KeyRegistry } from '../keys.js';

export interface AttestationPolicy {
  enabled: boolean;
  certificatePem?: string;
  accountId?: string;
  region?: string;
  /** A document older than this (by its pendingTime) is a replay. */
  maxDocumentAgeMs: number;
  /** How long a new key must be its id's only claimant before it is accepted. */
  contestWindowMs: number;
}

/** Instances the reactor saw launch, into service or into the warm pool, and not leaving. */
const LAUNCHED = new Set(['warming', 'warmed', 'launching', 'in-service']);
/** Where an instance is while it launches (into service or a warm pool): the only time its document may enrol a key. */
const LAUNCHING_STATES = new Set([
  'Pending',
  'Pending:Wait',
  'Pending:Proceed',
  'Warmed:Pending',
  'Warmed:Pending:Wait',
  'Warmed:Pending:Proceed',
]);

/**
 * Accepts a pending key without a human only for an instance the reactor saw launch and that is not
 * terminating; with attestation on, only when the minion presented an identity document signed by
 * the configured certificate for that very instance (and account and region, when configured),
 * in answer to this cluster's challenge (so bound to its key, now), with a recent pendingTime,
 * while Auto Scaling still has the instance launching. A key is accepted only after it has been its
 * id's only claimant for the contest window; an id two keys claim is left for an operator.
 * Either order works: it is asked when a key arrives and when a launch is recorded.
 */
export class AutoAcceptor {
  /** Looks again once a key's contest window ends (one timer per id). */
  readonly #later = new Map<string, NodeJS.Timeout>();
  /** Contests already announced, by id and number of keys: one event each. */
  readonly #announced = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly keys: KeyRegistry,
    private readonly autoscaling: AutoScalingClient,
    private readonly policy: AttestationPolicy,
    private readonly events: ClusterEvents,
    private readonly log: Logger,
  ) {}

  async consider(minionId: string, now = Date.now()): Promise<boolean> {
    const record = await this.store.minions.get(minionId);
    if (record?.keyState !== 'pending') return false;
    if (record.lifecycle === undefined || !LAUNCHED.has(record.lifecycle.state)) return false; // not an instance we launched
    if (record.contested !== undefined) {
      const keys = record.contested.claimants.length + 1;
      if (this.#announced.get(minionId) !== keys) {
        this.#announced.set(minionId, keys);
        if (this.#announced.size > 10_000) this.#announced.delete(this.#announced.keys().next().value as string);
        this.events.emit('key/contested', { minionId, keys });
      }
      return false;
    }
    const settlesAt = (record.keyUpdatedAt ?? now) + this.policy.contestWindowMs;
    if (settlesAt > now) {
      this.#lookAgainAt(minionId, settlesAt - now);
      return false;
    }
    const refusal = await this.#refusal(record, now);
    if (refusal !== undefined) {
      this.events.emit('key/refused', { minionId, reason: refusal });
      return false;
    }
    const accepted = await this.keys.acceptPending(minionId);
    if (accepted) this.events.emit('key/accepted', { minionId, by: 'reactor', attested: this.policy.enabled });
    return accepted;
  }

  stop(): void {
    for (const timer of this.#later.values()) clearTimeout(timer);
    this.#later.clear();
  }

  #lookAgainAt(minionId: string, delayMs: number): void {
    if (this.#later.has(minionId)) return;
    const timer = setTimeout(() => {
      this.#later.delete(minionId);
      this.consider(minionId).catch((err: unknown) => this.log.warn({ err, minionId }, 'auto-accept failed'));
    }, delayMs + 10);
    timer.unref();
    this.#later.set(minionId, timer);
  }

  async #refusal(record: MinionRecord, now: number): Promise<string | undefined> {
    if (!this.policy.enabled) return undefined;
    const { minionId } = record;
    if (this.policy.certificatePem === undefined) return 'attestation is on but no certificate is configured';
    const document = record.attestation?.document;
    const signature = record.attestation?.signature;
    if (typeof document !== 'string' || typeof signature !== 'string') return 'no identity document was presented';
    if (typeof record.attestation?.provenAt !== 'number') {
      return 'the identity document was not presented in answer to a challenge, so it is not bound to the key';
    }
    let pendingTime: number;
    try {
      const parsed = verifyIdentityDocument({ document, signature }, this.policy.certificatePem, {
        instanceId: minionId,
        ...(this.policy.accountId === undefined ? {} : { accountId: this.policy.accountId }),
        ...(this.policy.region === undefined ? {} : { region: this.policy.region }),
      });
      pendingTime = Date.parse(parsed.pendingTime);
    } catch (err) {
      if (isPhoenixError(err)) return err.message;
      this.log.warn({ err, minionId }, 'identity document check failed');
      return 'the identity document could not be checked';
    }
    const ageMs = now - pendingTime;
    if (!(ageMs <= this.policy.maxDocumentAgeMs)) {
      return `the identity document's pendingTime is ${Math.round(ageMs / 1000)} s old (at most ${this.policy.maxDocumentAgeMs / 1000} s): a replay, not a launch`;
    }
    return this.#launchingNow(record);
  }

  /** Auto Scaling itself must still have the instance launching in the group the reactor recorded. */
  async #launchingNow(record: MinionRecord): Promise<string | undefined> {
    const lifecycle = record.lifecycle as NonNullable<MinionRecord['lifecycle']>;
    let state: string | undefined;
    let group: string | undefined;
    try {
      const { AutoScalingInstances = [] } = await this.autoscaling.send(
        new DescribeAutoScalingInstancesCommand({ InstanceIds: [record.minionId] }),
      );
      state = AutoScalingInstances[0]?.LifecycleState;
      group = AutoScalingInstances[0]?.AutoScalingGroupName;
    } catch (err) {
      this.log.warn({ err, minionId: record.minionId }, 'could not ask Auto Scaling about the instance');
      return 'Auto Scaling could not be asked whether the instance is launching';
    }
    if (state === undefined) return `Auto Scaling does not know instance ${record.minionId}`;
    if (group !== lifecycle.group) return `the instance is in group ${group ?? 'none'}, not ${lifecycle.group}`;
    // A group without a launching hook puts its instances in service at once.
    const fine = LAUNCHING_STATES.has(state) || (lifecycle.hookName === undefined && state === 'InService');
    return fine
      ? undefined
      : `the instance is ${state} in Auto Scaling, not launching: its document can no longer enrol a key`;
  }
}
