import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
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
   * Stores many returns in batch writes (25 to a request, as DynamoDB allows), which a fan-out to
   * thousands of minions needs: one request per return costs the master more than the job itself.
   * Unconditional: a copy re-sent after a failover rewrites the same row, and callers tell first
   * copies from re-sends themselves. Resolves once every item is stored.
   */
  putMany(rets: readonly NewReturn[]): Promise<void> {
    return this.#table.putMany(rets.map((ret) => this.#item(ret)));
  }

  #item(ret: NewReturn): Record<string, unknown> {
    const json = JSON.stringify(ret.ret ?? null);
    const bytes = Buffer.byteLength(json);
    return {
      ...ret,
      ...(bytes > this.options.maxReturnBytes
        ? {
            ret: Buffer.from(json).subarray(0, this.options.maxReturnBytes).toString('utf8'),
            truncated: { originalBytes: bytes },
          }
        : { ret: json }),
      expiresAt: expiresAt(ret.receivedAt, this.options.returnRetentionMs),
    };
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
