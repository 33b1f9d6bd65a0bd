import { ConditionFailedError } from './errors.js';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expiresAt } from './options.js';
import type { StoreOptions } from './options.js';
import { MasterRecordSchema } from './records.js';
import type { MasterRecord, MasterStatus } from './records.js';
import { Table } from './table.js';
import type { ReadCount } from './table.js';

export type NewMaster = Omit<MasterRecord, 'expiresAt'>;

/** A master is live while its heartbeat is younger than deadAfter; every reader applies this, not TTL. */
export function isLive(master: MasterRecord, deadAfterMs: number, now = Date.now()): boolean {
  return now - master.heartbeatAt < deadAfterMs;
}

/** The masters table: one row per master, refreshed by its heartbeat. */
export class MastersTable {
  readonly #table: Table<MasterRecord>;

  constructor(
    doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly options: StoreOptions,
  ) {
    this.#table = new Table(doc, tableName, ['masterId'], MasterRecordSchema, options.pageSize);
  }

  /** Reads of this table so far: the benchmark reports them per minion-hour. */
  get reads(): ReadCount {
    return this.#table.reads;
  }

  async put(master: NewMaster): Promise<MasterRecord> {
    const record = { ...master, expiresAt: expiresAt(master.heartbeatAt, this.options.masterRetentionMs) };
    await this.#table.put(record);
    return record;
  }

  /**
   * Refreshes the row. Fails with ConditionFailedError when the row is gone (another master swept
   * this one as dead): the caller should put its full row again rather than recreate a partial one.
   */
  async heartbeat(
    masterId: string,
    state: {
      minionCount: number;
      status?: MasterStatus;
      treeHash?: string;
      gitCommits?: Record<string, string>;
      fileServerErrors?: string[];
    },
    now = Date.now(),
  ): Promise<MasterRecord> {
    return this.#table.update(
      { masterId },
      {
        heartbeatAt: now,
        minionCount: state.minionCount,
        // Absent means unchanged here, not removed.
        ...(state.status === undefined ? {} : { status: state.status }),
        ...(state.treeHash === undefined ? {} : { treeHash: state.treeHash }),
        ...(state.gitCommits === undefined ? {} : { gitCommits: state.gitCommits }),
        ...(state.fileServerErrors === undefined ? {} : { fileServerErrors: state.fileServerErrors }),
        expiresAt: expiresAt(now, this.options.masterRetentionMs),
      },
      { expression: 'attribute_exists(masterId)' },
    );
  }

  get(masterId: string): Promise<MasterRecord | undefined> {
    return this.#table.get({ masterId });
  }

  /** Every row, dead ones included: filter with isLive. */
  async list(): Promise<MasterRecord[]> {
    return (await this.#table.scan()).items;
  }

  /**
   * Deletes a row. With `ifHeartbeatAt`, only if the heartbeat is still the one the caller saw dead,
   * so a master that came back in the meantime is not removed.
   */
  async delete(masterId: string, ifHeartbeatAt?: number): Promise<void> {
    await this.#table.delete(
      { masterId },
      ifHeartbeatAt === undefined
        ? undefined
        : { expression: 'heartbeatAt = :seen', values: { ':seen': ifHeartbeatAt } },
    );
  }

  /** Marks a master draining (its instance is terminating); false when it has no row. */
  async markDraining(masterId: string): Promise<boolean> {
    try {
      await this.#table.update({ masterId }, { status: 'draining' }, { expression: 'attribute_exists(masterId)' });
      return true;
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
  }
}
