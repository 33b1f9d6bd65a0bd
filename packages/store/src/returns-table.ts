import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
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
    /** The low-level client the batch writes go through, their items marshalled here. */
    private readonly client: DynamoDBClient,
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
    return this.#table.putManyMarshalled(
      this.client,
      rets.map((ret) => this.#item(ret)),
    );
  }

  /** A return row as DynamoDB attribute values, built by hand: every attribute is flat and known. */
  #item(ret: NewReturn): Record<string, AttributeValue> {
    const json = JSON.stringify(ret.ret ?? null);
    // Only a long text can be over the limit (a UTF-8 byte is at most one UTF-16 unit of it).
    const bytes = json.length * 3 > this.options.maxReturnBytes ? Buffer.byteLength(json) : json.length;
    const over = bytes > this.options.maxReturnBytes;
    const item: Record<string, AttributeValue> = {
      jid: { S: ret.jid },
      minionId: { S: ret.minionId },
      success: { BOOL: ret.success },
      retcode: { N: String(ret.retcode) },
      ret: { S: over ? Buffer.from(json).subarray(0, this.options.maxReturnBytes).toString('utf8') : json },
      masterId: { S: ret.masterId },
      receivedAt: { N: String(ret.receivedAt) },
      expiresAt: { N: String(expiresAt(ret.receivedAt, this.options.returnRetentionMs)) },
    };
    if (over) item.truncated = { M: { originalBytes: { N: String(bytes) } } };
    return item;
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
