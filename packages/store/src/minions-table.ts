import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionFailedError } from './errors.js';
import { expiresAt } from './options.js';
import type { StoreOptions } from './options.js';
import { MinionRecordSchema } from './records.js';
import type {
  KeyState,
  Lifecycle,
  LifecycleEvent,
  LifecycleEventName,
  MasterEvent,
  MinionRecord,
  Quarantine,
} from './records.js';
import type { Page, PageRequest } from './pagination.js';
import { Table } from './table.js';
import type { ExpressionParts } from './update-expression.js';
import type { ReadCount } from './table.js';

const LIFECYCLE_RANK: Record<Lifecycle['state'], number> = {
  warming: 1,
  warmed: 1,
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
  'contested',
  'quarantine',
  'strikes',
] as const;

/** Claimants kept per contested id: the first ones (a real minion enrols early), bounded. */
const MAX_CLAIMANTS = 16;

export type Claimant = NonNullable<MinionRecord['contested']>['claimants'][number];

/** The histories a minion row keeps, each bounded to the newest `historyLength` entries. */
type HistoryName = 'lifecycleHistory' | 'masterHistory';
type HistoryAppends = Partial<{ lifecycleHistory: LifecycleEvent[]; masterHistory: MasterEvent[] }>;
/**
 * Entries a history may hold beyond its length before it is cut back: the cut is a second write,
 * made once in this many appends rather than at each.
 */
const HISTORY_SLACK = 10;

/** A strike count read and written back is retried this often when another master wrote meanwhile. */
const STRIKE_ATTEMPTS = 5;

/** One attempt at an instance's first highstate: the master making it and an id unique to the attempt. */
export interface HighstateClaim {
  readonly masterId: string;
  readonly claimId: string;
}

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
    by?: string,
  ): Promise<MinionRecord> {
    const from = typeof expectedFrom === 'string' ? [expectedFrom] : expectedFrom;
    const values = Object.fromEntries(from.map((state, i) => [`:from${i}`, state]));
    // A key an operator decides on starts afresh: no quarantine, no strikes.
    return this.#update(
      { minionId },
      { keyState: to, keyUpdatedAt: now, quarantine: undefined, strikes: undefined },
      { expression: `keyState IN (${Object.keys(values).join(', ')})`, values },
      to === 'accepted' ? lifecycleEntry('key-accepted', now, { by }) : undefined,
    );
  }

  /** The reactor's accept: a pending key that no other key contests (ConditionFailedError otherwise). */
  acceptUncontested(minionId: string, now = Date.now(), by?: string): Promise<MinionRecord> {
    return this.#update(
      { minionId },
      { keyState: 'accepted', keyUpdatedAt: now },
      { expression: 'keyState = :pending AND attribute_not_exists(contested)', values: { ':pending': 'pending' } },
      lifecycleEntry('key-accepted', now, { by }),
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
   * Records another key claiming an id whose key is still pending: the id is contested from now
   * on, and neither key is auto-accepted. Conditional on the row still holding `heldPublicKey`
   * pending (ConditionFailedError otherwise: the caller reads the row again).
   */
  async addClaimant(record: MinionRecord, claimant: Omit<Claimant, 'at'>, now = Date.now()): Promise<MinionRecord> {
    const claimants = record.contested?.claimants ?? [];
    if (claimants.some((c) => c.publicKey === claimant.publicKey)) {
      if (claimant.attestation === undefined) return record;
      // A claimant that proves itself later keeps its place and gains its attestation.
    } else if (claimants.length >= MAX_CLAIMANTS) return record;
    const next = claimants.some((c) => c.publicKey === claimant.publicKey)
      ? claimants.map((c) => (c.publicKey === claimant.publicKey ? { ...c, attestation: claimant.attestation } : c))
      : [...claimants, { ...claimant, at: now }];
    return this.#table.update(
      { minionId: record.minionId },
      { contested: { at: record.contested?.at ?? now, claimants: next } },
      {
        expression: 'keyState = :pending AND publicKey = :held',
        values: { ':pending': 'pending', ':held': record.publicKey },
      },
    );
  }

  /**
   * An operator's choice for a contested id: the chosen key (the held one or a claimant) becomes
   * the accepted key, the contest ends, and the last other key is kept as denied for the record.
   */
  chooseKey(
    record: MinionRecord,
    chosen: { publicKey: string; fingerprint: string; attestation?: Record<string, unknown> },
    denied: { publicKey: string; fingerprint: string } | undefined,
    now = Date.now(),
    by?: string,
  ): Promise<MinionRecord> {
    return this.#table.update(
      { minionId: record.minionId },
      {
        keyState: 'accepted',
        publicKey: chosen.publicKey,
        fingerprint: chosen.fingerprint,
        attestation: chosen.attestation,
        contested: undefined,
        deniedKey: denied === undefined ? undefined : { ...denied, at: now },
        keyUpdatedAt: now,
      },
      {
        expression: 'keyState = :pending AND publicKey = :held',
        values: { ':pending': 'pending', ':held': record.publicKey },
      },
      lifecycleEntry('key-accepted', now, { by }),
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
    const removed = [...KEY_ATTRIBUTES, 'grains', 'connectedMaster', 'connectedAt', 'helloAt'];
    return this.#table.update({ minionId }, Object.fromEntries(removed.map((name) => [name, undefined])), {
      expression: 'attribute_exists(minionId)',
    });
  }

  setVouchedGrains(minionId: string, grains: Record<string, unknown>): Promise<MinionRecord> {
    return this.#table.update({ minionId }, { vouchedGrains: grains });
  }

  updateGrains(minionId: string, grains: Record<string, unknown>): Promise<MinionRecord> {
    return this.#table.update({ minionId }, { grains });
  }

  /**
   * Written on connect only: presence changes live in the masters' memory, not per heartbeat. The
   * connection joins the minion's master history in the same write, and so do the grains it
   * reported when they changed (`grains`): a master's worth of minions reconnecting costs one
   * write each. `helloAt`, the minion's own time of the hello, orders the writes of two masters: a
   * busy master's late write of an older hello changes nothing, and the row is returned as it is.
   */
  async setPresence(
    minionId: string,
    masterId: string,
    now = Date.now(),
    /** The grains the minion said hello with, when they changed: in the same write. */
    grains?: Record<string, unknown>,
    helloAt?: number,
  ): Promise<MinionRecord> {
    try {
      return await this.#update(
        { minionId },
        {
          connectedMaster: masterId,
          connectedAt: now,
          ...(grains === undefined ? {} : { grains }),
          ...(helloAt === undefined ? {} : { helloAt }),
        },
        helloAt === undefined
          ? undefined
          : { expression: 'attribute_not_exists(helloAt) OR helloAt < :helloAt', values: { ':helloAt': helloAt } },
        { masterHistory: [{ at: now, masterId, event: 'connected' }] },
      );
    } catch (err) {
      if (!(err instanceof ConditionFailedError)) throw err;
      const record = await this.get(minionId);
      if (record === undefined) throw err;
      return record;
    }
  }

  /**
   * Clears presence on disconnect, only if the minion is still recorded on this master: a late
   * disconnect must not erase the connection the minion already made to another master.
   * Returns whether it was cleared.
   */
  async clearPresence(minionId: string, masterId: string, now = Date.now()): Promise<boolean> {
    try {
      await this.#update(
        { minionId },
        { connectedMaster: undefined, connectedAt: undefined },
        { expression: 'connectedMaster = :master', values: { ':master': masterId } },
        { masterHistory: [{ at: now, masterId, event: 'disconnected' }] },
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
   * minion's row expires after the retention for history; any other state never expires. A new
   * state joins the lifecycle history in the same write (`by`: the master recording it); a
   * duplicate does not.
   */
  async setLifecycle(
    minionId: string,
    lifecycle: Omit<Lifecycle, 'updatedAt'>,
    now = Date.now(),
    by?: string,
  ): Promise<MinionRecord | undefined> {
    const rank = LIFECYCLE_RANK[lifecycle.state];
    const changes = {
      lifecycle: { ...lifecycle, updatedAt: now },
      lifecycleRank: rank,
      expiresAt:
        lifecycle.state === 'terminated' ? expiresAt(now, this.options.terminatedMinionRetentionMs) : undefined,
    };
    const forward = 'attribute_not_exists(lifecycleRank) OR lifecycleRank <= :rank';
    try {
      // A state the row is not in yet: recorded and remembered. Otherwise (a duplicate delivery,
      // or a step older than the one stored) the plain write below decides.
      return await this.#update(
        { minionId },
        changes,
        {
          expression: `(${forward}) AND (attribute_not_exists(#lc) OR #lc.#st <> :state)`,
          names: { '#lc': 'lifecycle', '#st': 'state' },
          values: { ':rank': rank, ':state': lifecycle.state },
        },
        lifecycleEntry(lifecycle.state, now, { by }),
      );
    } catch (err) {
      if (!(err instanceof ConditionFailedError)) throw err;
    }
    try {
      return await this.#table.update({ minionId }, changes, { expression: forward, values: { ':rank': rank } });
    } catch (err) {
      if (err instanceof ConditionFailedError) return undefined;
      throw err;
    }
  }

  /** Adds an event to the lifecycle history that changes no state (an abandoned launch). */
  async noteLifecycle(
    minionId: string,
    event: LifecycleEventName,
    now = Date.now(),
    extra: { by?: string; jid?: string } = {},
  ): Promise<void> {
    await this.#update(
      { minionId },
      {},
      { expression: 'attribute_exists(minionId)' },
      lifecycleEntry(event, now, extra),
    );
  }

  /**
   * An instance leaves the warm pool for service: its lifecycle starts again at `lifecycle`
   * (launching, or in service without a hook) and the highstate record of its preparation goes,
   * so its first highstate in service runs. Only from `warming` or `warmed`: a repeated message
   * finds the instance launching already and changes nothing (false).
   */
  async leaveWarmPool(minionId: string, lifecycle: Omit<Lifecycle, 'updatedAt'>, now = Date.now()): Promise<boolean> {
    return this.#conditional(
      { minionId },
      {
        lifecycle: { ...lifecycle, updatedAt: now },
        lifecycleRank: LIFECYCLE_RANK[lifecycle.state],
        highstate: undefined,
        expiresAt: undefined,
      },
      {
        expression: '#lc.#st IN (:warming, :warmed)',
        names: { '#lc': 'lifecycle', '#st': 'state' },
        values: { ':warming': 'warming', ':warmed': 'warmed' },
      },
      lifecycleEntry(lifecycle.state, now),
    );
  }

  /**
   * An instance goes back into the warm pool on scale-in: `warmed` again, its key and history
   * kept. Never from terminating or terminated (false then).
   */
  async returnToWarmPool(
    minionId: string,
    lifecycle: Omit<Lifecycle, 'updatedAt' | 'state'>,
    now = Date.now(),
  ): Promise<boolean> {
    return this.#conditional(
      { minionId },
      { lifecycle: { ...lifecycle, state: 'warmed', updatedAt: now }, lifecycleRank: LIFECYCLE_RANK.warmed },
      {
        expression: 'attribute_exists(minionId) AND lifecycleRank <= :rank',
        values: { ':rank': LIFECYCLE_RANK['in-service'] },
      },
      lifecycleEntry('warmed', now),
    );
  }

  async #conditional(
    key: { minionId: string },
    changes: Record<string, unknown>,
    condition: ExpressionParts,
    appends?: HistoryAppends,
  ): Promise<boolean> {
    try {
      await this.#update(key, changes, condition, appends);
      return true;
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
  }

  /** Marks the minion disabled (no jobs, no scheduled highstate); undefined enables it again. */
  setDisabled(
    minionId: string,
    disabled: { by: string; reason: string; states?: readonly string[] } | undefined,
    now = Date.now(),
  ): Promise<MinionRecord> {
    return this.#table.update(
      { minionId },
      { disabled: disabled && { ...disabled, ...(disabled.states && { states: [...disabled.states] }), at: now } },
    );
  }

  /**
   * Claims the minion's first highstate for one attempt (`claim`: the master and an id of its own
   * for this attempt) until now + leaseMs. Succeeds only if nobody holds it, or the holder's lease
   * expired before it finished (a crashed claimant is replaced), and only while the row's job is
   * still `jid` (the job the caller read and will adopt; none for a fresh claim). The same attempt
   * repeating its request (a retry whose answer was lost) keeps its claim; a second attempt, even by
   * the same master, is refused while the lease holds: one run per instance. A finished highstate is
   * never claimed again. Otherwise ConditionFailedError.
   */
  claimHighstate(
    minionId: string,
    claim: HighstateClaim,
    leaseMs: number,
    options: { jid?: string; now?: number } = {},
  ): Promise<MinionRecord> {
    const now = options.now ?? Date.now();
    const { jid } = options;
    return this.#update(
      { minionId },
      {
        highstate: {
          claimedBy: claim.masterId,
          claimId: claim.claimId,
          leaseUntil: now + leaseMs,
          startedAt: now,
          ...(jid === undefined ? {} : { jid }),
        },
      },
      {
        expression:
          'attribute_exists(minionId) AND (attribute_not_exists(highstate) OR (attribute_not_exists(highstate.finishedAt)' +
          ' AND (highstate.leaseUntil <= :now OR highstate.claimId = :claim)' +
          (jid === undefined ? ' AND attribute_not_exists(highstate.jid)))' : ' AND highstate.jid = :jid))'),
        values: { ':now': now, ':claim': claim.claimId, ...(jid === undefined ? {} : { ':jid': jid }) },
      },
      lifecycleEntry('highstate-started', now, { by: claim.masterId, jid }),
    );
  }

  /**
   * Records the job of a claimed first highstate, so a master taking the claim over waits for that
   * job instead of running the highstate a second time. One job per claim: refused once a job is
   * recorded, unless it replaces `previous` (a job the minion refused because another run held it).
   */
  recordHighstateJob(minionId: string, claim: HighstateClaim, jid: string, previous?: string): Promise<MinionRecord> {
    const held = this.#heldBy(claim);
    return this.#table.update(
      { minionId },
      { 'highstate.jid': jid },
      previous === undefined
        ? { expression: `${held.expression} AND attribute_not_exists(highstate.jid)`, values: held.values }
        : {
            expression: `${held.expression} AND highstate.jid = :previous`,
            values: { ...held.values, ':previous': previous },
          },
    );
  }

  /** Extends the holder's lease while the highstate runs; ConditionFailedError if the claim was lost. */
  renewHighstate(minionId: string, claim: HighstateClaim, leaseMs: number, now = Date.now()): Promise<MinionRecord> {
    return this.#table.update({ minionId }, { 'highstate.leaseUntil': now + leaseMs }, this.#heldBy(claim));
  }

  /**
   * Records the outcome of the claimed job; ConditionFailedError if another master took the claim
   * over meanwhile, or the row's job is another one.
   */
  finishHighstate(
    minionId: string,
    claim: HighstateClaim,
    outcome: { result: 'success' | 'failure'; jid: string },
    now = Date.now(),
  ): Promise<MinionRecord> {
    const held = this.#heldBy(claim);
    return this.#update(
      { minionId },
      { 'highstate.result': outcome.result, 'highstate.finishedAt': now },
      { expression: `${held.expression} AND highstate.jid = :jid`, values: { ...held.values, ':jid': outcome.jid } },
      lifecycleEntry(outcome.result === 'success' ? 'highstate-succeeded' : 'highstate-failed', now, {
        by: claim.masterId,
        jid: outcome.jid,
      }),
    );
  }

  /**
   * An update that also appends to the row's histories; a history grown past its length (plus a
   * slack) is cut back to the newest entries by a second write, conditional on its size so an
   * entry another master appended meanwhile is never cut unseen (the next append cuts then).
   */
  async #update(
    key: { minionId: string },
    changes: Readonly<Record<string, unknown>>,
    condition: ExpressionParts | undefined,
    appends: HistoryAppends | undefined,
  ): Promise<MinionRecord> {
    let record = await this.#table.update(key, changes, condition, appends);
    const keep = this.options.historyLength;
    for (const name of Object.keys(appends ?? {}) as HistoryName[]) {
      const history = record[name];
      if (history === undefined || history.length <= keep + HISTORY_SLACK) continue;
      try {
        record = await this.#table.update(
          key,
          { [name]: history.slice(-keep) },
          { expression: 'size(#h) = :n', names: { '#h': name }, values: { ':n': history.length } },
        );
      } catch {
        // Lost to another write (the next append cuts it), or failed: the change itself is
        // written, and a history a little long for a while harms nothing.
      }
    }
    return record;
  }

  #heldBy(claim: HighstateClaim) {
    return {
      expression: 'highstate.claimId = :claim AND attribute_not_exists(highstate.finishedAt)',
      values: { ':claim': claim.claimId },
    };
  }
}

function lifecycleEntry(
  event: LifecycleEventName,
  at: number,
  extra: { by?: string | undefined; jid?: string | undefined } = {},
): HistoryAppends {
  const entry: LifecycleEvent = { at, event };
  if (extra.by !== undefined) entry.by = extra.by;
  if (extra.jid !== undefined) entry.jid = extra.jid;
  return { lifecycleHistory: [entry] };
}
