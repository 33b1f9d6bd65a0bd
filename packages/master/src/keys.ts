import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { compileTarget, keyFingerprint, MessageKeys, type KeyState, PhoenixError } from '@phoenix/protocol';
import { ConditionFailedError, type MinionRecord, type Quarantine, type Store } from '@phoenix/store';
import { MasterErrors } from './errors.js';

export interface AcceptedKey {
  readonly minionId: string;
  readonly publicKey: string;
  /** The key the minion signs its messages with (see protocol keys.ts). */
  readonly messageKey: Buffer;
}

export interface KeyInfo {
  minionId: string;
  state: KeyState;
  fingerprint: string;
  updatedAt?: number;
  /** More than one key claims this pending id: an operator accepts one by fingerprint. */
  contested?: boolean;
  /** An accepted key held because its minion kept sending messages the masters refused. */
  quarantined?: Quarantine;
}

/** An identity document presented at enrolment, and when the minion proved it holds its key with it. */
export interface Attestation {
  document: string;
  signature: string;
  /** Set when the document came in answer to this master's challenge (see minion-link.ts). */
  provenAt?: number;
}

export type KeyAction = 'accept' | 'reject' | 'delete';

export interface KeyChange {
  minionId: string;
  /** Known where the change was made; a peer reports only where the key went. */
  from?: KeyState | 'quarantined';
  /** `quarantined`: the key stays accepted in the table, but no master lets its minion in. */
  to: KeyState | 'deleted' | 'quarantined';
}

/** Why an enrolment was refused without a key state of its own to answer with. */
export type EnrolRefusal = 'pending-cap' | 'quarantined';

export interface EnrolAnswer {
  state: KeyState;
  reason?: string;
  /** Answered from this master's memory: nothing new happened. */
  known?: boolean;
  refused?: EnrolRefusal;
  /** More than one key claims the id. */
  contested?: boolean;
}

export interface KeyRegistryOptions {
  /** Pending keys the cluster holds at most: an enrolment of a new id beyond it is refused. */
  maxPendingKeys: number;
  /** This master: named in a minion's lifecycle history when it accepts the minion's key. */
  masterId?: string;
}

/** Key writes in flight at once when an action matches many keys. */
const KEY_WRITES_AT_ONCE = 16;

/** How long this master answers a repeated enrolment from its memory of a pending key. */
const PENDING_TRUSTED_MS = 30_000;

/**
 * How long a count of the cluster's pending keys is used before it is read again; meanwhile the
 * keys this master registered are added to it. Several masters may each admit a few within one
 * such interval: the cap holds to within that.
 */
const PENDING_COUNT_FRESH_MS = 2_000;

/** What each action may change: like salt-key, accept and reject act on pending keys unless told more. */
const ACTION_SOURCES: Record<KeyAction, (opts: { include: boolean }) => readonly KeyState[]> = {
  accept: ({ include }) => (include ? ['pending', 'rejected'] : ['pending']),
  reject: ({ include }) => (include ? ['pending', 'accepted'] : ['pending']),
  delete: () => ['pending', 'accepted', 'rejected', 'denied'],
};

/**
 * The cluster-wide key store as one master sees it: the minions table is the truth, and the
 * accepted keys are cached here because the ZAP handler and every incoming message consult them.
 */
export class KeyRegistry {
  readonly #store: Store;
  readonly #messageKeys: MessageKeys;
  readonly #log: Logger;
  readonly #masterId: string | undefined;
  /**
   * Keys this master knows to be pending (id → public key): a pending minion asks again every
   * `enrolRetryMs`, and is answered from here instead of the table. Any change to the id drops it,
   * and an entry is trusted for PENDING_TRUSTED_MS only, in case a peer's change never arrived.
   */
  readonly #pending = new Map<string, { publicKey: string; at: number }>();
  readonly #maxPending: number;
  #pendingCount = { value: 0, at: Number.NEGATIVE_INFINITY, added: 0 };
  #counting: Promise<void> | undefined;
  /** New keys being written now (counted against the cap until written or refused). */
  #reserved = 0;
  readonly #byId = new Map<string, AcceptedKey>();
  readonly #byPublicKey = new Map<string, AcceptedKey>();
  readonly #changes = new EventEmitter<{ change: [KeyChange, boolean, MinionRecord | undefined] }>().setMaxListeners(0);
  #lastRefresh = 0;
  #refreshing: Promise<void> | undefined;
  /** A refresh that starts once the one under way ends: what peers' reports of accepted keys wait for. */
  #nextRefresh: Promise<void> | undefined;
  /**
   * For each refresh reading the table now, the ids whose key changed here meanwhile: its older
   * view of them must not undo the change (a key rejected during the read admitted again, or one
   * accepted during it forgotten, until the next refresh).
   */
  readonly #readsInFlight = new Set<Set<string>>();

  constructor(store: Store, clusterSecretKey: string, log: Logger, options: KeyRegistryOptions) {
    this.#store = store;
    this.#maxPending = options.maxPendingKeys;
    this.#messageKeys = new MessageKeys(clusterSecretKey);
    this.#log = log;
    this.#masterId = options.masterId;
  }

  /** Reloads every accepted key from the table (all pages of the byKeyState index). */
  async refresh(now = Date.now()): Promise<void> {
    this.#lastRefresh = now;
    const fresh = new Map<string, AcceptedKey>();
    const changed = new Set<string>();
    this.#readsInFlight.add(changed);
    try {
      let cursor: string | undefined;
      do {
        const page = await this.#store.minions.listByKeyState('accepted', { limit: 1000, cursor });
        for (const record of page.items) {
          // A quarantined key is accepted in the table, but lets nobody in.
          if (record.publicKey !== undefined && record.quarantine === undefined)
            fresh.set(record.minionId, this.#entry(record.minionId, record.publicKey));
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
    } finally {
      this.#readsInFlight.delete(changed);
    }
    for (const id of [...this.#byId.keys()]) if (!fresh.has(id) && !changed.has(id)) this.#forget(id);
    for (const entry of fresh.values()) if (!changed.has(entry.minionId)) this.#remember(entry);
  }

  /**
   * A refresh triggered by an unknown key at the door: a key accepted on another master becomes
   * usable here within about a second, without polling the table while nothing changes.
   */
  /**
   * Resolves once a refresh that started after this call has read the table (it fails as that read
   * does). A thousand callers at once share one or two reads.
   */
  #refreshAfterNow(): Promise<void> {
    this.#nextRefresh ??= (this.#refreshing ?? Promise.resolve()).then(() => {
      this.#nextRefresh = undefined;
      return this.#startRefresh();
    });
    return this.#nextRefresh;
  }

  refreshSoon(minIntervalMs = 1_000): void {
    if (this.#refreshing !== undefined || Date.now() - this.#lastRefresh < minIntervalMs) return;
    void this.#startRefresh().catch(() => undefined);
  }

  /** A refresh that `#refreshing` follows (its failure logged there); the read itself, which may fail. */
  #startRefresh(): Promise<void> {
    const read = this.refresh();
    this.#refreshing = read
      .catch((err: unknown) => this.#log.warn({ err }, 'could not refresh accepted keys'))
      .finally(() => (this.#refreshing = undefined));
    return read;
  }

  isAcceptedPublicKey(publicKey: string): boolean {
    return this.#byPublicKey.has(publicKey);
  }

  /** The key a minion presenting `publicKey` signs with (RangeError if it is not a CURVE key). */
  messageKeyFor(publicKey: string): Buffer {
    return this.#messageKeys.derive(publicKey);
  }

  accepted(minionId: string): AcceptedKey | undefined {
    return this.#byId.get(minionId);
  }

  acceptedIds(): string[] {
    return [...this.#byId.keys()];
  }

  /**
   * Hears every key change: `local` when made on this master, else reported by a peer; `row` is the
   * minion's row as the change wrote it, when this master wrote it (a listener need not read it again).
   */
  onChange(listener: (change: KeyChange, local: boolean, row: MinionRecord | undefined) => void): () => void {
    this.#changes.on('change', listener);
    return () => void this.#changes.off('change', listener);
  }

  /**
   * A minion presents its key. New id: pending. Same key: its current state. A different key for an
   * id that has one: denied, recorded for operators, and never a replacement (as salt-key does).
   */
  async enrol(minionId: string, publicKey: string, identity?: Attestation, now = Date.now()): Promise<EnrolAnswer> {
    // Asked again by a minion whose key this master already knows: no table round trip.
    if (this.#byId.get(minionId)?.publicKey === publicKey) return { state: 'accepted', known: true };
    // A minion answering the challenge with its identity document is news: it goes to the table.
    if (identity === undefined && this.knows(minionId, publicKey, now)) return { state: 'pending', known: true };
    // Pending here before, trusted no longer: one read confirms it (no write that is bound to fail),
    // and it is not news (the reactor looked at it when it was new).
    const confirmed =
      identity === undefined && this.#pending.get(minionId)?.publicKey === publicKey
        ? await this.#confirmPending(minionId, publicKey)
        : undefined;
    const answer = confirmed ?? (await this.#enrolInTable(minionId, publicKey, identity, now));
    if (answer.state === 'pending' && answer.contested !== true) this.#notePending(minionId, publicKey, now);
    else this.#pending.delete(minionId);
    return answer;
  }

  /** Whether an enrolment of this id and key would be answered from memory (no table work). */
  knows(minionId: string, publicKey: string, now = Date.now()): boolean {
    if (this.#byId.get(minionId)?.publicKey === publicKey) return true;
    const pending = this.#pending.get(minionId);
    return pending?.publicKey === publicKey && now - pending.at < PENDING_TRUSTED_MS;
  }

  /** The table still holds this very key pending (uncontested): answered, else undefined (the full path decides). */
  async #confirmPending(minionId: string, publicKey: string): Promise<EnrolAnswer | undefined> {
    const record = await this.#store.minions.get(minionId);
    if (record?.keyState !== 'pending' || record.publicKey !== publicKey || record.contested !== undefined)
      return undefined;
    return { state: 'pending', known: true };
  }

  async #enrolInTable(
    minionId: string,
    publicKey: string,
    identity: Attestation | undefined,
    now: number,
    attempt = 0,
  ): Promise<EnrolAnswer> {
    const fingerprint = keyFingerprint(publicKey);
    const attestation = identity === undefined ? {} : { attestation: { ...identity } };
    let record: MinionRecord | undefined;
    // Checked and reserved in one step (no await between): enrolments in flight together cannot
    // all take the last place.
    if ((await this.#pendingKeys(now)) + this.#reserved < this.#maxPending) {
      this.#reserved++;
      let registered = false;
      try {
        await this.#store.minions.registerKey(minionId, { publicKey, fingerprint, ...attestation }, now);
        registered = true;
      } catch (err) {
        if (!(err instanceof ConditionFailedError)) throw err;
      } finally {
        this.#reserved--;
        if (registered) this.#pendingCount.added++;
      }
      if (registered) {
        this.#log.info({ minionId, fingerprint }, 'new key pending');
        // A new key is a key change too: peers and every master's event stream hear of it at once.
        await this.applyChange({ minionId, to: 'pending' }, true);
        return { state: 'pending' };
      }
      record = await this.#store.minions.get(minionId);
    } else {
      // At the cap only ids that already hold a key are answered; a new one is not written.
      record = await this.#store.minions.get(minionId);
      if (record?.keyState === undefined && record?.lifecycle?.state !== 'terminated') {
        this.#log.warn(
          { minionId, fingerprint, maxPendingKeys: this.#maxPending },
          'refused a new key: too many pending',
        );
        return {
          state: 'rejected',
          reason: `the cluster holds its limit of ${this.#maxPending} pending keys; enrol again later`,
          refused: 'pending-cap',
        };
      }
    }
    if (record?.lifecycle?.state === 'terminated' && record.keyState === undefined) {
      this.#log.warn({ minionId, fingerprint }, 'refused an enrolment for a terminated instance');
      return { state: 'rejected', reason: `instance ${minionId} was terminated` };
    }
    if (record?.keyState === undefined) {
      // Deleted between the write and the read: once more, then it is a passing conflict.
      if (attempt < 2) return this.#enrolInTable(minionId, publicKey, identity, now, attempt + 1);
      return { state: 'rejected', reason: `the key of ${minionId} is changing; enrol again` };
    }
    if (record.publicKey === publicKey) {
      if (record.keyState === 'accepted' && record.quarantine !== undefined) {
        return {
          state: 'rejected',
          reason: `quarantined (${record.quarantine.reason}); an operator lifts it with phoenix keys accept ${minionId}`,
          refused: 'quarantined',
        };
      }
      if (record.keyState === 'accepted') this.#remember(this.#entry(minionId, publicKey));
      // A proof made now replaces an older one: the freshest binding of document, key and time counts.
      if (record.keyState === 'pending' && identity !== undefined) {
        await this.#store.minions.setAttestation(minionId, { ...identity }).catch(() => undefined);
      }
      return { state: record.keyState, ...(record.contested === undefined ? {} : { contested: true }) };
    }
    if (record.keyState === 'pending') {
      // Two sources claim one id before anyone decided: neither is accepted without an operator.
      try {
        await this.#store.minions.addClaimant(record, {
          publicKey,
          fingerprint,
          ...(identity === undefined ? {} : { attestation: { ...identity } }),
        });
      } catch (err) {
        if (err instanceof ConditionFailedError && attempt < 2)
          return this.#enrolInTable(minionId, publicKey, identity, now, attempt + 1);
        if (err instanceof ConditionFailedError) {
          return { state: 'rejected', reason: `the key of ${minionId} is changing; enrol again` };
        }
        throw err;
      }
      this.#pending.delete(minionId);
      this.#log.warn(
        { minionId, fingerprint, held: record.fingerprint },
        'a second key claims a pending minion id: contested, held for an operator',
      );
      return {
        state: 'pending',
        contested: true,
        reason: `minion id ${minionId} is claimed by more than one key; an operator must accept one by fingerprint`,
      };
    }
    await this.#store.minions.recordDeniedKey(minionId, { publicKey, fingerprint }, now);
    this.#log.warn(
      { minionId, fingerprint, held: record.fingerprint, heldState: record.keyState },
      'a different key was presented for a minion id that already has one: denied',
    );
    return { state: 'denied', reason: `minion id ${minionId} already has a ${record.keyState} key` };
  }

  /** Pending keys in the cluster as last counted, plus those this master registered since. */
  async #pendingKeys(now: number): Promise<number> {
    if (now - this.#pendingCount.at > PENDING_COUNT_FRESH_MS) {
      this.#counting ??= this.#store.minions
        .countByKeyState('pending')
        .then(
          (value) => {
            this.#pendingCount = { value, at: Date.now(), added: 0 };
          },
          (err: unknown) => this.#log.warn({ err }, 'could not count the pending keys; using the last count'),
        )
        .finally(() => (this.#counting = undefined));
      await this.#counting;
    }
    return this.#pendingCount.value + this.#pendingCount.added;
  }

  /** Remembers a pending key, bounded: at most as many as the cluster may hold. */
  #notePending(minionId: string, publicKey: string, now: number): void {
    this.#pending.delete(minionId);
    if (this.#pending.size >= this.#maxPending) {
      const oldest = this.#pending.keys().next();
      if (oldest.done !== true) this.#pending.delete(oldest.value);
    }
    this.#pending.set(minionId, { publicKey, at: now });
  }

  /**
   * Quarantines an accepted key (its minion kept sending what masters must refuse): every master
   * forgets it, cuts its connection and refuses the next, until an operator accepts it again.
   * False when it was not accepted, or already quarantined.
   */
  async quarantine(minionId: string, reason: string, by: string, now = Date.now()): Promise<boolean> {
    try {
      await this.#store.minions.setQuarantine(minionId, { at: now, reason, by });
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
    this.#log.warn({ minionId, reason }, 'minion quarantined');
    await this.applyChange({ minionId, from: 'accepted', to: 'quarantined' }, true);
    return true;
  }

  /** Every key whose minion id matches the glob, with denied keys beside the held ones (as salt-key lists them). */
  async list(pattern = '*', state?: KeyState): Promise<KeyInfo[]> {
    const matcher = compileTarget(pattern, 'glob');
    const keys: KeyInfo[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#store.minions.list({ limit: 1000, cursor });
      for (const record of page.items) {
        if (!matcher.matches({ id: record.minionId, grains: {} })) continue;
        if (record.keyState !== undefined) keys.push(info(record));
        for (const claimant of record.contested?.claimants ?? []) {
          const { fingerprint, at } = claimant;
          keys.push({ minionId: record.minionId, state: 'pending', fingerprint, updatedAt: at, contested: true });
        }
        if (record.deniedKey !== undefined) {
          const { fingerprint, at } = record.deniedKey;
          keys.push({ minionId: record.minionId, state: 'denied', fingerprint, updatedAt: at });
        }
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    return keys
      .filter((key) => state === undefined || key.state === state)
      .sort((a, b) => a.minionId.localeCompare(b.minionId) || a.state.localeCompare(b.state));
  }

  /**
   * Applies an action to every key matching the glob whose state allows it; returns what changed.
   * With `fingerprint`, only the key with that fingerprint: the way to settle a contested id,
   * which `accept` refuses to touch without one.
   */
  async apply(
    action: KeyAction,
    pattern: string,
    include = false,
    now = Date.now(),
    fingerprint?: string,
  ): Promise<KeyChange[]> {
    const sources = ACTION_SOURCES[action]({ include });
    const to = action === 'delete' ? 'deleted' : action === 'accept' ? 'accepted' : 'rejected';
    const listed = await this.list(pattern);
    const contested = [...new Set(listed.filter((key) => key.contested === true).map((key) => key.minionId))];
    if (action === 'accept' && fingerprint === undefined && contested.length > 0) {
      throw new PhoenixError(
        MasterErrors.PHX_API_BAD_REQUEST,
        `contested: more than one key claims ${contested.join(', ')}; accept one with its fingerprint (phoenix keys accept ID --fingerprint FP); nothing was changed`,
        { details: { contested } },
      );
    }
    const seen = new Set<string>();
    // Each id once: a held key's denied twin (or a contested id's claimants) is listed beside it.
    // Accepting a quarantined key again is how an operator lifts the quarantine.
    const lifts = (key: KeyInfo): boolean => action === 'accept' && key.quarantined !== undefined;
    const todo = listed.filter(
      (key) =>
        (sources.includes(key.state) || lifts(key)) &&
        (fingerprint === undefined || key.fingerprint === fingerprint) &&
        !seen.has(key.minionId) &&
        seen.add(key.minionId),
    );
    const written: Array<{ change: KeyChange; publicKey: string | undefined; row: MinionRecord | undefined }> = [];
    // A few writes at a time: accepting a fleet of thousands is seconds, not a write after a write.
    const worker = async (): Promise<void> => {
      for (let key = todo.shift(); key !== undefined; key = todo.shift()) {
        let publicKey: string | undefined;
        let row: MinionRecord | undefined;
        try {
          if (action === 'delete') await this.#store.minions.deleteKey(key.minionId);
          else if (action === 'accept' && contested.includes(key.minionId))
            publicKey = await this.#choose(key.minionId, key.fingerprint, now);
          else if (lifts(key)) publicKey = (await this.#store.minions.liftQuarantine(key.minionId)).publicKey;
          else {
            row = await this.#store.minions.setKeyState(key.minionId, key.state, to as KeyState, now, this.#masterId);
            publicKey = row.publicKey;
          }
        } catch (err) {
          if (err instanceof ConditionFailedError) continue; // changed meanwhile by someone else: theirs stands
          throw err;
        }
        const from = lifts(key) ? 'quarantined' : key.state;
        written.push({ change: { minionId: key.minionId, from, to }, publicKey, row });
      }
    };
    await Promise.all(Array.from({ length: KEY_WRITES_AT_ONCE }, worker));
    // Told once every write is done: an accepted minion connects at once and its hello writes to
    // the table too, so telling each as its key is written made the writes still to come queue
    // behind a thousand hellos (keys accepted at 25–90 a second instead of hundreds).
    for (const { change, publicKey, row } of written) await this.applyChange(change, true, publicKey, row);
    return written.map(({ change }) => change).sort((a, b) => a.minionId.localeCompare(b.minionId));
  }

  /** Settles a contested id on the key with `fingerprint`; returns the accepted public key. */
  async #choose(minionId: string, fingerprint: string, now: number): Promise<string> {
    const record = await this.#store.minions.get(minionId);
    const claimants = record?.contested?.claimants ?? [];
    if (record?.publicKey === undefined || record.fingerprint === undefined)
      throw new ConditionFailedError(this.#store.minions.tableName, { minionId });
    const held = { publicKey: record.publicKey, fingerprint: record.fingerprint, attestation: record.attestation };
    const candidates = [held, ...claimants];
    const chosen = candidates.find((c) => c.fingerprint === fingerprint);
    if (chosen === undefined) throw new ConditionFailedError(this.#store.minions.tableName, { minionId });
    const other = candidates.filter((c) => c !== chosen).at(-1);
    await this.#store.minions.chooseKey(
      record,
      {
        publicKey: chosen.publicKey,
        fingerprint: chosen.fingerprint,
        ...(chosen.attestation === undefined ? {} : { attestation: chosen.attestation }),
      },
      other && { publicKey: other.publicKey, fingerprint: other.fingerprint },
      now,
      this.#masterId,
    );
    this.#log.info({ minionId, fingerprint }, 'contested minion id settled by an operator');
    return chosen.publicKey;
  }

  /** Accepts one pending key (the reactor's auto-accept); false when it was not pending any more. */
  async acceptPending(minionId: string, now = Date.now()): Promise<boolean> {
    let row: MinionRecord;
    try {
      row = await this.#store.minions.acceptUncontested(minionId, now, this.#masterId);
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
    await this.applyChange({ minionId, from: 'pending', to: 'accepted' }, true, row.publicKey, row);
    return true;
  }

  /** Deletes one key whatever its state (a terminated instance's); false when there was none. */
  async deleteOne(minionId: string): Promise<boolean> {
    const record = await this.#store.minions.get(minionId);
    if (record?.keyState === undefined) return false;
    await this.#store.minions.deleteKey(minionId);
    await this.applyChange({ minionId, from: record.keyState, to: 'deleted' }, true);
    return true;
  }

  /** Brings the cache in line with a change made here or reported by a peer, and tells listeners. */
  async applyChange(change: KeyChange, local: boolean, acceptedPublicKey?: string, row?: MinionRecord): Promise<void> {
    this.#pending.delete(change.minionId);
    // A refresh under way keeps its hands off what changes here, marked as it changes: a peer's
    // report still checking the table must not hide the key from a refresh that read it (a fleet
    // accepted at once on one master is a thousand such reports, and they take seconds).
    const mark = (): void => {
      for (const changed of this.#readsInFlight) changed.add(change.minionId);
    };
    if (change.to === 'accepted') {
      // The writer knows the key it accepted; a peer's report is checked against the table, by
      // one read of every accepted key that all reports arriving meanwhile share (a fleet accepted
      // at once elsewhere is a thousand reports: read one by one, they took 13 s), else by its row.
      const publicKey =
        acceptedPublicKey ??
        (await this.#refreshAfterNow().then(
          () => this.#byId.get(change.minionId)?.publicKey,
          () => this.#acceptedPublicKeyInTable(change.minionId),
        ));
      if (publicKey !== undefined) {
        mark();
        this.#remember(this.#entry(change.minionId, publicKey));
      }
    } else {
      mark();
      this.#forget(change.minionId);
    }
    this.#log.info(change, 'key state changed');
    this.#changes.emit('change', change, local, row);
  }

  async #acceptedPublicKeyInTable(minionId: string): Promise<string | undefined> {
    const record = await this.#store.minions.get(minionId);
    return record?.keyState === 'accepted' && record.quarantine === undefined ? record.publicKey : undefined;
  }

  #entry(minionId: string, publicKey: string): AcceptedKey {
    const known = this.#byId.get(minionId);
    if (known?.publicKey === publicKey) return known;
    return Object.freeze({ minionId, publicKey, messageKey: this.#messageKeys.derive(publicKey) });
  }

  #remember(entry: AcceptedKey): void {
    const previous = this.#byId.get(entry.minionId);
    if (previous !== undefined) this.#byPublicKey.delete(previous.publicKey);
    this.#byId.set(entry.minionId, entry);
    this.#byPublicKey.set(entry.publicKey, entry);
  }

  #forget(minionId: string): void {
    const previous = this.#byId.get(minionId);
    if (previous === undefined) return;
    this.#byId.delete(minionId);
    this.#byPublicKey.delete(previous.publicKey);
  }
}

function info(record: MinionRecord): KeyInfo {
  const key: KeyInfo = {
    minionId: record.minionId,
    state: record.keyState ?? 'pending',
    fingerprint: record.fingerprint ?? '',
  };
  if (record.keyUpdatedAt !== undefined) key.updatedAt = record.keyUpdatedAt;
  if (record.contested !== undefined) key.contested = true;
  if (record.quarantine !== undefined && record.keyState === 'accepted') key.quarantined = { ...record.quarantine };
  return key;
}
