import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ManualClock } from '@phoenix/protocol';
import { botoDynamodbStates } from '../src/state/functions/boto-dynamodb.js';
import type { StateCallContext, StateRuntime } from '../src/state/functions/types.js';

/*
 * A new table that never becomes ACTIVE: boto_dynamodb.present waits for it by its clock, asking
 * once a second, and fails after five minutes of that clock. The local DynamoDB makes its tables
 * ACTIVE at once, so the real DynamoDBClient talks here to a table that stays CREATING (only its
 * transport is replaced; requests and answers go through the SDK's own models).
 */

function creatingForever() {
  const sent: string[] = [];
  let created = false;
  const answer = (status: number, body: unknown) => ({
    response: {
      statusCode: status,
      headers: { 'content-type': 'application/x-amz-json-1.0' },
      body: Readable.from([Buffer.from(JSON.stringify(body))]),
    },
  });
  const description = {
    TableName: 'stuck',
    TableStatus: 'CREATING',
    TableArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/stuck',
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
  };
  const handler = {
    handle: async (request: { headers: Record<string, string> }) => {
      const action = (request.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      sent.push(action);
      if (action === 'CreateTable') {
        created = true;
        return answer(200, { TableDescription: description });
      }
      if (action === 'DescribeTable')
        return created
          ? answer(200, { Table: description })
          : answer(400, {
              __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException',
              message: 'Requested resource not found',
            });
      return answer(200, {});
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };
  return {
    sent,
    onClient: (client: object) => {
      (client as DynamoDBClient).config.requestHandler =
        handler as unknown as DynamoDBClient['config']['requestHandler'];
    },
  };
}

const context: StateCallContext = {
  test: false,
  rt: { pillar: {} } as unknown as StateRuntime,
  id: 'stuck',
  sls: 'tables',
  requires: [],
};

test('a table that stays CREATING fails the state after five minutes of its clock, asked once a second', async () => {
  const table = creatingForever();
  const clock = new ManualClock();
  const present = botoDynamodbStates({
    settings: { region: 'us-east-1', endpoints: {}, credentials: { accessKeyId: 'AKID', secretAccessKey: 'x' } },
    onClient: table.onClient,
    clock,
  }).functions.present;
  assert.ok(present !== undefined);
  const started = clock.now();
  let done = false;
  const run = present.run({ name: 'stuck', hash_key: 'id' }, context).finally(() => {
    done = true;
  });
  // Each poll sets one timer: move the clock a second whenever the state waits on it.
  for (let turn = 0; turn < 100_000 && !done; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (clock.pending().length > 0) clock.advance(1_000);
  }
  const result = await run;
  assert.equal(result.result, false);
  assert.match(result.comment, /DynamoDB table stuck did not become ACTIVE within 300 s/);
  assert.equal(clock.now() - started, 300_000, 'five minutes of the clock went by');
  const polls = table.sent.filter((a) => a === 'DescribeTable').length;
  assert.equal(polls, 1 + 301, 'the first look, then one DescribeTable a second until the deadline');
});
