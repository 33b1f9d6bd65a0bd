import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { conditionalWrite, CorruptItemError, UnprocessedWriteError } from './errors.js';
import type { ItemKey } from './errors.js';
import { decodeCursor, encodeCursor, readPages } from './pagination.js';
import type { Page, PageRequest, RawPage, StartKey } from './pagination.js';
import { updateExpression } from './update-expression.js';
import type { ExpressionParts } from './update-expression.js';

export interface ReadCount {
  /** Requests that read the table (GetItem, each Query or Scan page). */
  readonly requests: number;
  /** Items those requests returned. */
  readonly items: number;
}

export type QueryInput = Omit<QueryCommandInput, 'TableName' | 'Limit' | 'ExclusiveStartKey'>;

const StartKeySchema = z.record(z.string(), z.unknown());
/** DynamoDB's limit per BatchWriteItem request. */
const BATCH_WRITE_ITEMS = 25;
const BATCH_WRITE_ATTEMPTS = 6;

/**
 * What every table shares: items validated on the way out, pages followed, reads counted,
 * a lost condition turned into a ConditionFailedError. The per-table classes only say what to do.
 */
export class Table<T> {
  #requests = 0;
  #items = 0;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly name: string,
    private readonly keyNames: readonly string[],
    private readonly schema: z.ZodType<T>,
    private readonly pageSize: number | undefined,
  ) {}

  get reads(): ReadCount {
    return Object.freeze({ requests: this.#requests, items: this.#items });
  }

  /** Strongly consistent: the callers read in order to decide something. */
  async get(key: ItemKey): Promise<T | undefined> {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.name, Key: key, ConsistentRead: true }));
    this.#count(1, Item ? 1 : 0);
    return Item ? this.parse(Item) : undefined;
  }

  async put(item: Record<string, unknown>, condition?: ExpressionParts): Promise<void> {
    const key = this.#keyOf(item);
    await conditionalWrite(this.name, key, () =>
      this.doc.send(new PutCommand({ TableName: this.name, Item: item, ...conditionInput(condition) })),
    );
  }

  /**
   * Puts items with BatchWriteItem, 25 to a request; what DynamoDB leaves unprocessed (throttling)
   * is sent again with backoff, a bounded number of times.
   */
  async putMany(items: readonly Record<string, unknown>[]): Promise<void> {
    await this.#inBatches(items, async (pending) => {
      const { UnprocessedItems } = await this.doc.send(
        new BatchWriteCommand({ RequestItems: { [this.name]: pending } }),
      );
      return (UnprocessedItems?.[this.name] ?? []) as typeof pending;
    });
  }

  /**
   * As putMany, for items already in DynamoDB's attribute-value form, sent through the low-level
   * client: a hot table (returns) marshals its own flat items once instead of having the document
   * client walk every attribute of every item on every request.
   */
  async putManyMarshalled(client: DynamoDBClient, items: readonly Record<string, AttributeValue>[]): Promise<void> {
    await this.#inBatches(items, async (pending) => {
      const { UnprocessedItems } = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [this.name]: pending } }),
      );
      return (UnprocessedItems?.[this.name] ?? []) as typeof pending;
    });
  }

  /** 25 items to a request, the requests at once; what DynamoDB leaves unprocessed is sent again, bounded. */
  async #inBatches<I extends Record<string, unknown>>(
    items: readonly I[],
    send: (pending: Array<{ PutRequest: { Item: I } }>) => Promise<Array<{ PutRequest: { Item: I } }>>,
  ): Promise<void> {
    // DynamoDB refuses a whole batch that names one key twice (a minion's return sent again while
    // its first copy waits for the batch): one item per key, the last, as consecutive puts would leave.
    const distinct = this.#onePerKey(items);
    const requests: Promise<void>[] = [];
    for (let i = 0; i < distinct.length; i += BATCH_WRITE_ITEMS) {
      requests.push(this.#batchPut(distinct.slice(i, i + BATCH_WRITE_ITEMS), send));
    }
    await Promise.all(requests);
  }

  #onePerKey<I extends Record<string, unknown>>(items: readonly I[]): readonly I[] {
    const byKey = new Map<string, I>();
    for (const item of items) byKey.set(JSON.stringify(this.keyNames.map((name) => item[name])), item);
    return byKey.size === items.length ? items : [...byKey.values()];
  }

  async #batchPut<I>(
    items: readonly I[],
    send: (pending: Array<{ PutRequest: { Item: I } }>) => Promise<Array<{ PutRequest: { Item: I } }>>,
  ): Promise<void> {
    let pending = items.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= BATCH_WRITE_ATTEMPTS) throw new UnprocessedWriteError(this.name, pending.length, attempt);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      pending = await send(pending);
    }
  }

  /** Applies a change set (undefined removes an attribute), and `appends` to list attributes, and returns the item as it is now. */
  async update(
    key: ItemKey,
    changes: Readonly<Record<string, unknown>>,
    condition?: ExpressionParts,
    appends?: Readonly<Record<string, readonly unknown[]>>,
  ): Promise<T> {
    const update = updateExpression(changes, appends);
    const { Attributes } = await conditionalWrite(this.name, key, () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.name,
          Key: key,
          UpdateExpression: update.expression,
          ConditionExpression: condition?.expression,
          ...expressionValues(update, condition),
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return this.parse(Attributes ?? {});
  }

  async delete(key: ItemKey, condition?: ExpressionParts): Promise<void> {
    await conditionalWrite(this.name, key, () =>
      this.doc.send(new DeleteCommand({ TableName: this.name, Key: key, ...conditionInput(condition) })),
    );
  }

  async query(input: QueryInput, request: PageRequest = {}): Promise<Page<T>> {
    return this.#pages(request, (startKey, limit) =>
      this.doc.send(new QueryCommand({ ...input, TableName: this.name, ExclusiveStartKey: startKey, Limit: limit })),
    );
  }

  /** How many items a query selects, over every page (DynamoDB counts up to 1 MB of items a request). */
  async count(input: QueryInput): Promise<number> {
    let total = 0;
    let startKey: StartKey | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({ ...input, TableName: this.name, Select: 'COUNT', ExclusiveStartKey: startKey }),
      );
      this.#count(1, 0);
      total += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return total;
  }

  async scan(request: PageRequest = {}): Promise<Page<T>> {
    return this.#pages(request, (startKey, limit) =>
      this.doc.send(new ScanCommand({ TableName: this.name, ExclusiveStartKey: startKey, Limit: limit })),
    );
  }

  parse(item: Record<string, unknown>): T {
    const parsed = this.schema.safeParse(item);
    if (parsed.success) return parsed.data;
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || 'item'}: ${i.message}`);
    throw new CorruptItemError(this.name, this.#keyOf(item), problems);
  }

  async #pages(
    request: PageRequest,
    send: (startKey: StartKey | undefined, limit: number | undefined) => Promise<RawPage>,
  ): Promise<Page<T>> {
    const startKey = request.cursor === undefined ? undefined : decodeCursor(StartKeySchema, request.cursor);
    const { items, lastKey } = await readPages(
      async (key, limit) => {
        const page = await send(key, limit);
        this.#count(1, page.Items?.length ?? 0);
        return page;
      },
      request.limit,
      startKey,
      this.pageSize,
    );
    const parsed = items.map((item) => this.parse(item));
    return lastKey === undefined ? { items: parsed } : { items: parsed, cursor: encodeCursor(lastKey) };
  }

  #count(requests: number, items: number) {
    this.#requests += requests;
    this.#items += items;
  }

  #keyOf(item: Record<string, unknown>): ItemKey {
    return Object.fromEntries(this.keyNames.map((k) => [k, String(item[k])]));
  }
}

function conditionInput(condition: ExpressionParts | undefined) {
  return condition ? { ConditionExpression: condition.expression, ...expressionValues(condition) } : {};
}

/** DynamoDB rejects empty name/value maps, so only non-empty ones are sent. */
function expressionValues(...parts: (ExpressionParts | undefined)[]) {
  const names = Object.assign({}, ...parts.map((p) => p?.names)) as Record<string, string>;
  const values = Object.assign({}, ...parts.map((p) => p?.values)) as Record<string, unknown>;
  return {
    ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
  };
}
