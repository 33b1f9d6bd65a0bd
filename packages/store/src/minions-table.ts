import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionFailedError } from './errors.js';
import { expiresAt } from './options.js';
import type { StoreOptions } from './options.js';
import { MinionRecordSchema } from './records.js';
import type { KeyState, Lifecycle, MinionRecord, Quarantine } from './records.js';
import type { Page, PageRequest } from './pagination.js';
import { Table } from './table.js';
import type { ReadCount } from './table.js';

const LIFECYCLE_RANK: Record<Lifecycle['state'], number> = {
  launching: 1,
  'in-service': 2,
  terminating: 3,
  terminated: 4,
};

const KEY_ATTRIBUTES = [
  'keyState',
  'publicKey',
  'fingerprint',
  'keyUpdatedAt',
  'attestation',
  'deniedKey',
  'quarantine',
  'strikes',
] as const;

/** A strike count read and written back is retried this often when another master wrote meanwhile. */
const STRIKE_ATTEMPTS = 5;

/**
 * The minions table: the cluster-wide key store plus what the masters know of each minion
 * (grains, presence, lifecycle, first-highstate claim). Writes that decide something are conditional.
 */
export class MinionsTable {
  readonly #table: Table<MinionRecord>;

  constructor(
    doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly options: StoreOptions,
  ) {
    this.#table = new Table(doc, tableName, ['minionId'], MinionRecordSchema, options.pageSize);
  }

  get reads(): ReadCount {
    return this.#table.reads;
  }

  get(minionId: string): Promise<MinionRecord | undefined> {
    return this.#table.get({ minionId });
  }

  list(request?: PageRequest): Promise<Page<MinionRecord>> {
    return this.#table.scan(request);
  }

  listByKeyState(keyState: KeyState, request?: PageRequest): Promise<Page<MinionRecord>> {
    return this.#table.query(
      {
        IndexName: 'byKeyState',
        KeyConditionExpression: 'keyState = :state',
        ExpressionAttributeValues: { ':state': keyState },
      },
      request,
    );
  }

  /** How many keys are in one state, cluster-wide (the pending-key cap reads it). */
  countByKeyState(keyState: KeyState): Promise<number> {
    return this.#table.count({
      IndexName: 'byKeyState',
      KeyConditionExpression: 'keyState = :state',
      ExpressionAttributeValues: { ':state': keyState },
    });
  }

  /**
   * Records a key as pending, only if the minion has no key yet (a row made by the lifecycle reactor
   * is fine). Otherwise ConditionFailedError: the caller reads the row and decides (same key, or denied).
   */
  registerKey(
    minionId: string,
    key: { publicKey: string; fingerprint: string; attestation?: Record<string, unknown> },
    now = Date.now(),
  ): Promise<MinionRecord> {
    return this.#table.update(
      { minionId },
      { keyState: 'pending', ...key, keyUpdatedAt: now },
      // A terminated instance's id never comes back: its minion, still running for a moment, must
      // not re-enrol the key the reactor just removed.
      {
        expression: 'attribute_not_exists(keyState) AND (attribute_not_exists(#lc) OR #lc.#st <> :terminated)',
        names: { '#lc': 'lifecycle', '#st': 'state' },
        values: { ':terminated': 'terminated' },
      },
    );
  }

  /** Moves a key from one of the expected states to `to`; ConditionFailedError if it is in another. */
  setKeyState(
    minionId: string,
    expectedFrom: KeyState | readonly KeyState[],
    to: KeyState,
    now = Date.now(),
  ): Promise<MinionRecord> {
    const from = typeof expectedFrom === 'string' ? [expectedFrom] : expectedFrom;
    const values = Object.fromEntries(from.map((state, i) => [`:from${i}`, state]));
    // A key an operator decides on starts afresh: no quarantine, no strikes.
    return this.#table.update(
      { minionId },
      { keyState: to, keyUpdatedAt: now, quarantine: undefined, strikes: undefined },
      { expression: `keyState IN (${Object.keys(values).join(', ')})`, values },
    );
  }

  /**
   * Adds `count` refused messages to the minion's strikes, in a window that starts with the first
   * strike and lasts `windowMs`; returns the strikes of the window now, or undefined when the minion
   * has no accepted key. Every master adds to the same count, so moving between masters does not
   * reset it.
   */
  async addStrikes(minionId: string, count: number, windowMs: number, now = Date.now()): Promise<number | undefined> {
    for (let attempt = 0; attempt < STRIKE_ATTEMPTS; attempt++) {
      const record = await this.get(minionId);
      if (record?.keyState !== 'accepted') return undefined;
      const held = record.strikes;
      const current = held !== undefined && now - held.since < windowMs ? held : undefined;
      const strikes = { count: (current?.count ?? 0) + count, since: current?.since ?? now };
      try {
        // Written only over what was read: a strike added by another master meanwhile is not lost.
        await this.#table.update(
          { minionId },
          { strikes },
          held === undefined
            ? {
                expression: 'keyState = :accepted AND attribute_not_exists(strikes)',
                values: { ':accepted': 'accepted' },
              }
            : {
                expression: 'keyState = :accepted AND strikes.#count = :count AND strikes.since = :since',
                names: { '#count': 'count' },
                values: { ':accepted': 'accepted', ':count': held.count, ':since': held.since },
              },
        );
        return strikes.count;
      } catch (err) {
        if (!(err instanceof ConditionFailedError)) throw err;
      }
    }
    return undefined;
  }

  /** Quarantines an accepted key; ConditionFailedError when it is not accepted or already held. */
  setQuarantine(minionId: string, quarantine: Quarantine): Promise<MinionRecord> {
    return this.#table.update(
      { minionId },
      { quarantine },
      {
        expression: 'keyState = :accepted AND attribute_not_exists(quarantine)',
        values: { ':accepted': 'accepted' },
      },
    );
  }

  /** Lifts a quarantine (an operator accepted the key again); ConditionFailedError when there is none. */
  liftQuarantine(minionId: string): Promise<MinionRecord> {
    return this.#table.update(
      { minionId },
      { quarantine: undefined, strikes: undefined },
      { expression: 'keyState = :accepted AND attribute_exists(quarantine)', values: { ':accepted': 'accepted' } },
    );
  }

  /** Keeps the identity document a pending minion presented, for attested acceptance. */
  setAttestation(minionId: string, attestation: Record<string, unknown>): Promise<MinionRecord> {
    return this.#table.update(
      { minionId },
      { attestation },
      { expression: 'keyState = :pending', values: { ':pending': 'pending' } },
    );
  }

  /**
   * Keeps the last key that was denied for this id, for operators to see (`phoenix keys list`);
   * it never replaces the key the row holds.
   */
  recordDeniedKey(
    minionId: string,
    key: { publicKey: string; fingerprint: string },
    now = Date.now(),
  ): Promise<MinionRecord> {
    return this.#table.update(
      { minionId },
      { deniedKey: { ...key, at: now } },
      { expression: 'attribute_exists(keyState)' },
    );
  }

  /**
   * Forgets the key (the minion may enrol again as pending). A row that records an instance's
   * lifecycle keeps it (and its highstate history) without the key; any other row goes entirely,
   * so deleted keys — a flood of made-up ids, say — leave nothing behind. Returns the row as it
   * stays, or undefined when it went; ConditionFailedError when there was none.
   */
  async deleteKey(minionId: string): Promise<MinionRecord | undefined> {
    try {
      await this.#table.delete(
        { minionId },
        { expression: 'attribute_exists(minionId) AND attribute_not_exists(lifecycle)' },
      );
      return undefined;
    } catch (err) {
      if (!(err instanceof ConditionFailedError)) throw err;
    }
    const removed = [...KEY_ATTRIBUTES, 'grains', 'connectedMaster', 'connectedAt'];
    return this.#table.update({ minionId }, Object.fromEntries(removed.map((name) => [name, undefined])), {
      expression: 'attribute_exists(minionId)',
    });
  }

  updateGrains(minionId: string, grains: Record<string, unknown>): Promise<MinionRecord> {
    return this.#table.update({ minionId }, { grains });
  }

  /** Written on connect only: presence changes live in the masters' memory, not per heartbeat. */
  setPresence(minionId: string, masterId: string, now = Date.now()): Promise<MinionRecord> {
    return this.#table.update({ minionId }, { connectedMaster: masterId, connectedAt: now });
  }

  /**
   * Clears presence on disconnect, only if the minion is still recorded on this master: a late
   * disconnect must not erase the connection the minion already made to another master.
   * Returns whether it was cleared.
   */
  async clearPresence(minionId: string, masterId: string): Promise<boolean> {
    try {
      await this.#table.update(
        { minionId },
        { connectedMaster: undefined, connectedAt: undefined },
        { expression: 'connectedMaster = :master', values: { ':master': masterId } },
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
  }

  /**
   * Records a lifecycle step, only moving forward (launching → in-service → terminating →
   * terminated): a duplicate delivery rewrites the same step, and a step older than the one stored
   * (a launch processed after its terminate) changes nothing and returns undefined. A terminated
   * minion's row expires after the retention for history; any other state never expires.
   */
  async setLifecycle(
    minionId: string,
    lifecycle: Omit<Lifecycle, 'updatedAt'>,
    now = Date.now(),
  ): Promise<MinionRecord | undefined> {
    const rank = LIFECYCLE_RANK[lifecycle.state];
    try {
      return await this.#table.update(
        { minionId },
        {
          lifecycle: { ...lifecycle, updatedAt: now },
          lifecycleRank: rank,
          expiresAt:
            lifecycle.state === 'terminated' ? expiresAt(now, this.options.terminatedMinionRetentionMs) : undefined,
        },
        { expression: 'attribute_not_exists(lifecycleRank) OR lifecycleRank <= :rank', values: { ':rank': rank } },
      );
    } catch (err) {
      if (err instanceof ConditionFailedError) return undefined;
      throw err;
    }
  }

  /** Marks the minion disabled (no jobs, no scheduled highstate); undefined enables it again. */
  setDisabled(
    minionId: string,
    disabled: { by: string; reason: string } | undefined,
    now = Date.now(),
  ): Promise<MinionRecord> {
    return this.#table.update({ minionId }, { disabled: disabled && { ...disabled, at: now } });
  }

  /**
   * Claims the minion's highstate for `masterId` until now + leaseMs. Succeeds only if nobody holds
   * it, or the holder's lease expired before it finished (a crashed claimant is replaced). A repeat
   * by the holder also succeeds, so a retried request whose answer was lost does not lose its own claim.
   * A finished highstate is never claimed again. Otherwise ConditionFailedError.
   */
  claimHighstate(minionId: string, masterId: string, leaseMs: number, now = Date.now()): Promise<MinionRecord> {
    return this.#table.update(
      { minionId },
      { highstate: { claimedBy: masterId, leaseUntil: now + leaseMs, startedAt: now } },
      {
        expression:
          'attribute_exists(minionId) AND (attribute_not_exists(highstate) OR (attribute_not_exists(highstate.finishedAt)' +
          ' AND (highstate.leaseUntil <= :now OR highstate.claimedBy = :master)))',
        values: { ':now': now, ':master': masterId },
      },
    );
  }

  /**
   * Records the job of a claimed first highstate, so a master taking the claim over waits for that
   * job instead of running the highstate a second time.
   */
  recordHighstateJob(minionId: string, masterId: string, jid: string): Promise<MinionRecord> {
    return this.#table.update({ minionId }, { 'highstate.jid': jid }, this.#heldBy(masterId));
  }

  /** Extends the holder's lease while the highstate runs; ConditionFailedError if the claim was lost. */
  renewHighstate(minionId: string, masterId: string, leaseMs: number, now = Date.now()): Promise<MinionRecord> {
    return this.#table.update({ minionId }, { 'highstate.leaseUntil': now + leaseMs }, this.#heldBy(masterId));
  }

  /** Records the outcome; ConditionFailedError if another master took the claim over meanwhile. */
  finishHighstate(
    minionId: string,
    masterId: string,
    outcome: { result: 'success' | 'failure'; jid?: string },
    now = Date.now(),
  ): Promise<MinionRecord> {
    return this.#table.update(
      { minionId },
      { 'highstate.result': outcome.result, 'highstate.jid': outcome.jid, 'highstate.finishedAt': now },
      this.#heldBy(masterId),
    );
  }

  #heldBy(masterId: string) {
    return {
      expression: 'highstate.claimedBy = :master AND attribute_not_exists(highstate.finishedAt)',
      values: { ':master': masterId },
    };
  }
}
