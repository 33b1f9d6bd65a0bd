import { defineErrors, PhoenixError } from '@phoenix/protocol';

/** Every code this package throws. */
export const StoreErrors = defineErrors({
  PHX_STORE_CONDITION_FAILED: {
    message: 'a conditional write lost: someone else decided first (a claim is held, a key is in another state)',
  },
  PHX_STORE_CORRUPT_ITEM: {
    message: 'an item read from a table does not match its schema (written by another version, or by hand)',
  },
  PHX_STORE_TABLE_NOT_READY: { message: 'a table did not become ACTIVE in time' },
  PHX_STORE_BAD_CURSOR: { message: 'a list cursor is not one the list returned', status: 400 },
  PHX_STORE_BAD_PREFIX: { message: 'a table prefix is not 1-200 characters of A-Z a-z 0-9 _ . -' },
  PHX_STORE_WRITE_UNPROCESSED: {
    message: 'DynamoDB kept leaving part of a batch write unprocessed (throttling): not every item was stored',
  },
});

export type ItemKey = Readonly<Record<string, string>>;

/** A conditional write lost: someone else decided first (a claim is held, a key is in another state). */
export class ConditionFailedError extends PhoenixError {
  readonly table: string;
  readonly key: ItemKey;

  constructor(table: string, key: ItemKey, cause?: unknown) {
    super(
      StoreErrors.PHX_STORE_CONDITION_FAILED,
      `conditional write to ${table} ${JSON.stringify(key)} lost: the item changed or is not in the expected state; read it again before deciding`,
      { cause, details: { table, key } },
    );
    this.name = 'ConditionFailedError';
    this.table = table;
    this.key = Object.freeze({ ...key });
  }
}

/** An item read from a table does not match its schema (written by another version, or by hand). */
export class CorruptItemError extends PhoenixError {
  constructor(table: string, key: Readonly<Record<string, unknown>>, problems: string[]) {
    super(
      StoreErrors.PHX_STORE_CORRUPT_ITEM,
      `item ${JSON.stringify(key)} in ${table} does not match its schema (${problems.join('; ')}); fix or delete the item`,
      { details: { table, key, problems } },
    );
    this.name = 'CorruptItemError';
  }
}

/** DynamoDB kept leaving part of a batch write unprocessed (throttling): the items were not all stored. */
export class UnprocessedWriteError extends PhoenixError {
  constructor(table: string, count: number, attempts: number) {
    super(
      StoreErrors.PHX_STORE_WRITE_UNPROCESSED,
      `${count} item(s) of a batch write to ${table} stayed unprocessed after ${attempts} attempts; the table is throttled, raise its capacity or try again`,
      { details: { table, count, attempts } },
    );
    this.name = 'UnprocessedWriteError';
  }
}

export class TableNotReadyError extends PhoenixError {
  constructor(table: string, status: string, waitedMs: number) {
    super(
      StoreErrors.PHX_STORE_TABLE_NOT_READY,
      `table ${table} is ${status} after ${waitedMs} ms, not ACTIVE; check the table in DynamoDB and start again`,
      { details: { table, status, waitedMs } },
    );
    this.name = 'TableNotReadyError';
  }
}

/** Runs a conditional write; the SDK's ConditionalCheckFailedException becomes a typed ConditionFailedError. */
export async function conditionalWrite<T>(table: string, key: ItemKey, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof Error && err.name === 'ConditionalCheckFailedException') {
      throw new ConditionFailedError(table, key, err);
    }
    throw err;
  }
}
