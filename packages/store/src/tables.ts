import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { CreateTableCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PhoenixError } from '@phoenix/protocol';
import { StoreErrors, TableNotReadyError } from './errors.js';

export const TABLE_KINDS = ['masters', 'minions', 'jobs', 'returns'] as const;
export type TableKind = (typeof TABLE_KINDS)[number];

/** Every table expires rows through this attribute (epoch seconds); readers never rely on the deletion. */
export const TTL_ATTRIBUTE = 'expiresAt';

/**
 * A CreateTable input plus the table's TTL, in the shape CloudFormation's AWS::DynamoDB::Table and
 * UpdateTimeToLive both use. Strip TimeToLiveSpecification before sending it as a CreateTable input.
 */
export type TableDefinition = CreateTableCommandInput & {
  readonly TableName: string;
  readonly TimeToLiveSpecification: { readonly AttributeName: typeof TTL_ATTRIBUTE; readonly Enabled: true };
};

export type TableDefinitions = Readonly<Record<TableKind, TableDefinition>>;

const PREFIX = /^[A-Za-z0-9_.-]{1,200}$/;

/**
 * The four tables as plain data: devstack creates them from this and the CloudFormation templates
 * are checked against it, so this is the one place a key or index is defined.
 */
export function tableDefinitions(prefix: string): TableDefinitions {
  if (!PREFIX.test(prefix)) {
    throw new PhoenixError(
      StoreErrors.PHX_STORE_BAD_PREFIX,
      `table prefix "${prefix}" is not valid: use 1-200 characters of A-Z a-z 0-9 _ . -`,
      { details: { prefix } },
    );
  }
  const s = (name: string) => ({ AttributeName: name, AttributeType: 'S' as const });
  const define = (
    kind: TableKind,
    create: Omit<CreateTableCommandInput, 'TableName' | 'BillingMode'>,
  ): TableDefinition => ({
    TableName: `${prefix}-${kind}`,
    BillingMode: 'PAY_PER_REQUEST',
    ...create,
    TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
  });
  return {
    masters: define('masters', {
      KeySchema: [{ AttributeName: 'masterId', KeyType: 'HASH' }],
      AttributeDefinitions: [s('masterId')],
    }),
    minions: define('minions', {
      KeySchema: [{ AttributeName: 'minionId', KeyType: 'HASH' }],
      AttributeDefinitions: [s('minionId'), s('keyState')],
      // Lists the accepted (or pending) keys without a scan; rows without a key are not in it.
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byKeyState',
          KeySchema: [
            { AttributeName: 'keyState', KeyType: 'HASH' },
            { AttributeName: 'minionId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
    jobs: define('jobs', {
      KeySchema: [{ AttributeName: 'jid', KeyType: 'HASH' }],
      AttributeDefinitions: [s('jid'), s('day')],
      // One partition per UTC day, jids sorted within it: newest-first listing is a backwards query.
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byDay',
          KeySchema: [
            { AttributeName: 'day', KeyType: 'HASH' },
            { AttributeName: 'jid', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
    returns: define('returns', {
      KeySchema: [
        { AttributeName: 'jid', KeyType: 'HASH' },
        { AttributeName: 'minionId', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [s('jid'), s('minionId')],
    }),
  };
}

export interface CreateTablesOptions {
  /** How long to wait for each table to become ACTIVE. */
  readonly timeoutMs?: number;
  readonly pollMs?: number;
}

/**
 * Creates the tables that do not exist yet, waits until each is ACTIVE, and enables TTL.
 * Safe to run from every master at once: an existing table (or one another master is creating) is fine.
 */
export async function createTables(
  client: DynamoDBClient,
  prefix: string,
  { timeoutMs = 120_000, pollMs = 500 }: CreateTablesOptions = {},
): Promise<void> {
  const definitions = Object.values(tableDefinitions(prefix));
  for (const { TimeToLiveSpecification: _ttl, ...create } of definitions) {
    try {
      await client.send(new CreateTableCommand(create));
    } catch (err) {
      if (!(err instanceof Error && err.name === 'ResourceInUseException')) throw err;
    }
  }
  for (const { TableName, TimeToLiveSpecification } of definitions) {
    await waitUntilActive(client, TableName, timeoutMs, pollMs);
    await enableTtl(client, TableName, TimeToLiveSpecification.AttributeName);
  }
}

async function waitUntilActive(client: DynamoDBClient, table: string, timeoutMs: number, pollMs: number) {
  const start = Date.now();
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    const status = Table?.TableStatus ?? 'UNKNOWN';
    const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (status === 'ACTIVE' && indexesActive) return;
    const waited = Date.now() - start;
    if (waited >= timeoutMs)
      throw new TableNotReadyError(table, indexesActive ? status : 'waiting for indexes', waited);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

async function enableTtl(client: DynamoDBClient, table: string, attribute: string) {
  const { TimeToLiveDescription: ttl } = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
  if (ttl?.AttributeName === attribute && (ttl.TimeToLiveStatus === 'ENABLED' || ttl.TimeToLiveStatus === 'ENABLING')) {
    return;
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { Enabled: true, AttributeName: attribute },
      }),
    );
  } catch (err) {
    // The local DynamoDB (dynalite) has no TTL at all; nothing depends on TTL deletion, so go on.
    if (err instanceof Error && err.name === 'UnknownOperationException') return;
    // Another master enabled it between our describe and update.
    if (err instanceof Error && err.name === 'ValidationException' && /already enabled/i.test(err.message)) return;
    throw err;
  }
}
