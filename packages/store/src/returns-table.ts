import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConditionFailedError } from './errors.js';
import { expiresAt } from './options.js';
import type { StoreOptions } from './options.js';
import { ReturnRecordSchema } from './records.js';
import type { ReturnRecord } from './records.js';
import type { Page, PageRequest } from './pagination.js';
import { Table } from './table.js';
import type { ReadCount } from './table.js';

export type NewReturn = Omit<ReturnRecord, 'expiresAt' | 'truncated'>;

/** The returns table: one row per (jid, minion id), written before the return is acknowledged. */
export class ReturnsTable {
  readonly #table: Table<ReturnRecord>;

  constructor(
    doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly options: StoreOptions,
  ) {
    this.#table = new Table(doc, tableName, ['jid', 'minionId'], ReturnRecordSchema, options.pageSize);
  }

  get reads(): ReadCount {
    return this.#table.reads;
  }

  /**
   * Stores the return unless one for (jid, minion id) is already there: a minion resends its
   * outbox after a failover, so a duplicate is expected and answered with false, not an error.
   * A payload too large for one item is stored truncated (see `truncated`), never rejected.
   */
  async putOnce(ret: NewReturn): Promise<boolean> {
    const json = JSON.stringify(ret.ret ?? null);
    const bytes = Buffer.byteLength(json);
    const item = {
      ...ret,
      ...(bytes > this.options.maxReturnBytes
        ? {
            ret: Buffer.from(json).subarray(0, this.options.maxReturnBytes).toString('utf8'),
            truncated: { originalBytes: bytes },
          }
        : { ret: json }),
      expiresAt: expiresAt(ret.receivedAt, this.options.returnRetentionMs),
    };
    try {
      await this.#table.put(item, { expression: 'attribute_not_exists(jid)' });
      return true;
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
  }

  get(jid: string, minionId: string): Promise<ReturnRecord | undefined> {
    return this.#table.get({ jid, minionId });
  }

  listForJob(jid: string, request?: PageRequest): Promise<Page<ReturnRecord>> {
    return this.#table.query(
      { KeyConditionExpression: 'jid = :jid', ExpressionAttributeValues: { ':jid': jid } },
      request,
    );
  }
}
