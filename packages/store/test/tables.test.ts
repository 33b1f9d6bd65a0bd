import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { isPhoenixError } from '@phoenix/protocol';
import { createTables, TABLE_KINDS, tableDefinitions } from '../src/index.js';
import { startDynamoDB } from './local-dynamodb.js';

const PREFIX = 'tables-test';
let dynamo: Awaited<ReturnType<typeof startDynamoDB>>;
before(async () => {
  dynamo = await startDynamoDB();
});
after(() => dynamo.close());

const byName = <T extends { AttributeName?: string; IndexName?: string }>(list: T[] = []) =>
  [...list].sort((a, b) =>
    String(a.AttributeName ?? a.IndexName).localeCompare(String(b.AttributeName ?? b.IndexName)),
  );

test('table definitions are pure data named by the prefix, with an expiresAt TTL each', () => {
  const definitions = tableDefinitions('prod');
  assert.deepEqual(Object.keys(definitions), [...TABLE_KINDS]);
  for (const kind of TABLE_KINDS) {
    assert.equal(definitions[kind].TableName, `prod-${kind}`);
    assert.equal(definitions[kind].BillingMode, 'PAY_PER_REQUEST');
    assert.deepEqual(definitions[kind].TimeToLiveSpecification, { AttributeName: 'expiresAt', Enabled: true });
  }
  assert.deepEqual(tableDefinitions('prod'), definitions);
  assert.deepEqual(JSON.parse(JSON.stringify(definitions)), definitions);
});

test('a prefix DynamoDB would refuse is a typed error', () => {
  assert.throws(
    () => tableDefinitions('my cluster!'),
    (err) => isPhoenixError(err, 'PHX_STORE_BAD_PREFIX'),
  );
});

test('createTables creates every table exactly as defined', async () => {
  await createTables(dynamo.client, PREFIX);
  for (const definition of Object.values(tableDefinitions(PREFIX))) {
    const { Table } = await dynamo.client.send(new DescribeTableCommand({ TableName: definition.TableName }));
    assert.equal(Table?.TableStatus, 'ACTIVE');
    assert.deepEqual(Table?.KeySchema, definition.KeySchema);
    assert.deepEqual(byName(Table?.AttributeDefinitions), byName(definition.AttributeDefinitions));
    assert.deepEqual(
      byName(Table?.GlobalSecondaryIndexes).map((i) => ({
        IndexName: i.IndexName,
        KeySchema: i.KeySchema,
        Projection: i.Projection,
      })),
      byName(definition.GlobalSecondaryIndexes),
    );
  }
});

test('createTables is idempotent', async () => {
  await createTables(dynamo.client, PREFIX);
  await createTables(dynamo.client, PREFIX);
  const { TableNames = [] } = await dynamo.client.send(new ListTablesCommand({}));
  assert.deepEqual(
    TableNames.filter((n) => n.startsWith(`${PREFIX}-`)).sort(),
    TABLE_KINDS.map((k) => `${PREFIX}-${k}`).sort(),
  );
});

test('createTables does not swallow a TTL error other than the emulator lacking TTL', async () => {
  const failing = failTimeToLive(dynamo.client);
  try {
    await assert.rejects(createTables(dynamo.client, 'ttl-test'), { name: 'AccessDeniedException' });
  } finally {
    failing.remove();
  }
});

/** Makes UpdateTimeToLive fail the way a real service could, before the request leaves the client. */
function failTimeToLive(client: DynamoDBClient) {
  const name = 'failUpdateTimeToLive';
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'UpdateTimeToLiveCommand') {
        throw Object.assign(new Error('not allowed to enable TTL'), { name: 'AccessDeniedException' });
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  return { remove: () => client.middlewareStack.remove(name) };
}
