import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import {
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  GetItemCommand,
  ScanCommand,
  DeleteItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  ChangeMessageVisibilityCommand,
} from '@aws-sdk/client-sqs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { awsClientConfig, isPhoenixError } from '@phoenix/protocol';
import { tableDefinitions } from '@phoenix/store';
import { startDevstack } from '../src/index.js';
import { useDevstack, useTempDir } from '../src/testing.js';

const devstack = useDevstack({ maxReceiveCount: 2 });
const tempDir = useTempDir();

test('the tables are created from the shared definitions', async () => {
  const ds = devstack();
  const ddb = new DynamoDBClient(awsClientConfig(ds.aws, 'dynamodb'));
  try {
    const { TableNames = [] } = await ddb.send(new ListTablesCommand({}));
    const definitions = Object.values(tableDefinitions(ds.tablePrefix));
    assert.deepEqual(TableNames.sort(), definitions.map((d) => d.TableName).sort());
    for (const definition of definitions) {
      const { Table } = await ddb.send(new DescribeTableCommand({ TableName: definition.TableName }));
      assert.deepEqual(Table?.KeySchema, definition.KeySchema, `${definition.TableName} key schema`);
      const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, i.KeySchema]);
      const expected = (definition.GlobalSecondaryIndexes ?? []).map((i) => [i.IndexName, i.KeySchema]);
      assert.deepEqual(indexes, expected, `${definition.TableName} indexes`);
    }
  } finally {
    ddb.destroy();
  }
});

test('a message published to a group topic arrives on the lifecycle queue in the SNS envelope', async () => {
  const ds = devstack();
  const sns = new SNSClient(awsClientConfig(ds.aws, 'sns'));
  const sqs = new SQSClient(awsClientConfig(ds.aws, 'sqs'));
  try {
    const topicArn = ds.lifecycle.topicArns[ds.options.groups.minions.name];
    assert.ok(topicArn, 'the minions group has a topic');
    const body = JSON.stringify({ Event: 'autoscaling:TEST_NOTIFICATION', AutoScalingGroupName: 'x' });
    await sns.send(new PublishCommand({ TopicArn: topicArn, Message: body, Subject: 'test' }));
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: ds.lifecycle.queueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 1 }),
    );
    assert.equal(Messages.length, 1);
    const envelope = JSON.parse(Messages[0]?.Body ?? '{}') as Record<string, unknown>;
    assert.equal(envelope.Type, 'Notification');
    assert.equal(envelope.TopicArn, topicArn);
    assert.equal(envelope.Message, body);
    assert.equal(typeof envelope.MessageId, 'string');
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: ds.lifecycle.queueUrl, ReceiptHandle: Messages[0]?.ReceiptHandle }),
    );
  } finally {
    sns.destroy();
    sqs.destroy();
  }
});

test('a message that fails processing maxReceiveCount times lands in the dead-letter queue', async () => {
  const ds = devstack();
  const sqs = new SQSClient(awsClientConfig(ds.aws, 'sqs'));
  const sns = new SNSClient(awsClientConfig(ds.aws, 'sns'));
  try {
    const topicArn = ds.lifecycle.topicArns[ds.options.groups.masters.name];
    await sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'not json at all' }));
    // A consumer that fails: it receives the message and gives it back without deleting it.
    for (let attempt = 1; attempt <= 2; attempt++) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: ds.lifecycle.queueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 1 }),
      );
      assert.equal(Messages.length, 1, `receive ${attempt} gets the message`);
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: ds.lifecycle.queueUrl,
          ReceiptHandle: Messages[0]?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
    const { Messages: left = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: ds.lifecycle.queueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10 }),
    );
    assert.equal(left.length, 0, 'the message left the lifecycle queue');
    const { Messages: dead = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: ds.lifecycle.deadLetterQueueUrl,
        WaitTimeSeconds: 5,
        MaxNumberOfMessages: 10,
      }),
    );
    assert.equal(dead.length, 1);
    assert.equal((JSON.parse(dead[0]?.Body ?? '{}') as { Message?: string }).Message, 'not json at all');
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: ds.lifecycle.queueUrl, AttributeNames: ['RedrivePolicy'] }),
    );
    assert.deepEqual(JSON.parse(Attributes?.RedrivePolicy ?? '{}'), {
      deadLetterTargetArn: ds.lifecycle.deadLetterQueueArn,
      maxReceiveCount: 2,
    });
  } finally {
    sqs.destroy();
    sns.destroy();
  }
});

test('unknown option keys and bad ports are refused with an error that names them', async () => {
  await assert.rejects(
    startDevstack({ colour: 'blue' } as never),
    (err) => isPhoenixError(err, 'PHX_CONFIG_INVALID') && /unknown key "colour"/.test(err.message),
  );
  await assert.rejects(
    startDevstack({ ports: { dynamodb: 70_000 } }),
    (err) => isPhoenixError(err, 'PHX_CONFIG_INVALID') && /"ports\.dynamodb"/.test(err.message),
  );
  await assert.rejects(
    startDevstack({ groups: { minions: { name: 'web', desired: 5, max: 2 } } }),
    (err) => isPhoenixError(err, 'PHX_CONFIG_INVALID') && /groups\.minions/.test(err.message),
  );
});

test('a port already in use stops the start and leaves nothing half-started', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = (blocker.address() as { port: number }).port;
  const free = await freePort();
  try {
    await assert.rejects(
      startDevstack({ ports: { dynamodb: free, messaging: taken } }),
      (err) => isPhoenixError(err, 'PHX_DEVSTACK_PORT_IN_USE') && err.message.includes(String(taken)),
    );
    // The DynamoDB emulator that had started on `free` was stopped: the port can be bound again.
    const again = await startDevstack({ ports: { dynamodb: free } });
    await again.stop();
  } finally {
    blocker.close();
  }
});

test('with a data directory the tables and their items survive a restart', async () => {
  const dataDir = tempDir();
  const item = { minionId: { S: 'web-1' }, keyState: { S: 'pending' } };
  const first = await startDevstack({ dataDir, tablePrefix: 'persist' });
  const tableName = tableDefinitions('persist').minions.TableName;
  let ddb = new DynamoDBClient(awsClientConfig(first.aws, 'dynamodb'));
  await ddb.send(new PutItemCommand({ TableName: tableName, Item: item }));
  ddb.destroy();
  await first.stop();

  const second = await startDevstack({ dataDir, tablePrefix: 'persist' });
  ddb = new DynamoDBClient(awsClientConfig(second.aws, 'dynamodb'));
  try {
    const { Item } = await ddb.send(new GetItemCommand({ TableName: tableName, Key: { minionId: { S: 'web-1' } } }));
    assert.deepEqual(Item, item);
  } finally {
    ddb.destroy();
    await second.stop();
  }
});

test('requests in flight while the devstack stops are answered or refused, never an uncaught error', async () => {
  const stack = await startDevstack({ tablePrefix: 'inflight' });
  const TableName = tableDefinitions('inflight').minions.TableName;
  const ddb = new DynamoDBClient({ ...awsClientConfig(stack.aws, 'dynamodb'), maxAttempts: 1 });
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => void uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    const key = (i: number) => ({ minionId: { S: `m-${i % 20}` } });
    for (let i = 0; i < 20; i++) await ddb.send(new PutItemCommand({ TableName, Item: key(i) }));
    // Reads and writes still arriving while stop() runs, as a master's registry reads and heartbeats do.
    const commands = [
      (i: number) => new GetItemCommand({ TableName, Key: key(i) }),
      (i: number) => new PutItemCommand({ TableName, Item: key(i) }),
      (i: number) => new DeleteItemCommand({ TableName, Key: key(i) }),
      () => new ScanCommand({ TableName }),
    ];
    const requests = Array.from({ length: 200 }, (_, i) =>
      ddb.send(commands[i % commands.length]!(i) as GetItemCommand).then(
        () => 'answered',
        () => 'refused',
      ),
    );
    await Promise.race(requests);
    await stack.stop();
    const outcomes = await Promise.all(requests);
    assert.ok(outcomes.includes('answered'), 'the devstack was serving when it was stopped');
    // A handler that ran after the database closed would raise its error on a later turn.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(uncaught, [], 'no request reached the closed database');
  } finally {
    process.off('uncaughtException', onUncaught);
    ddb.destroy();
  }
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
