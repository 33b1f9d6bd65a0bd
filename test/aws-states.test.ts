import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { ListSubscriptionsCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { DescribeTableCommand, DynamoDBClient, ListTagsOfResourceCommand } from '@aws-sdk/client-dynamodb';
import { awsClientConfig } from '@phoenix/protocol';
import { useDevstack, useTempDir } from '@phoenix/devstack/testing';
import {
  devstackEndpoints,
  localAwsMinion,
  recordAwsCalls,
  type AwsRecorder,
  type LocalAwsMinion,
} from './lib/aws-states.js';

/*
 * The boto_* states against the local cloud, run as `phoenix call --local state.sls` on a
 * masterless minion. Every AWS request goes through a recorder in front of the emulators, so each
 * test says which calls a run made, and that test=True made no mutating one.
 */

const devstack = useDevstack();
const tmp = useTempDir('phoenix-aws-states-');
const SECRET = 'sEcReT-key-that-must-never-show-0123456789';
let recorder: AwsRecorder | undefined;
let minion: LocalAwsMinion;
let sqs: SQSClient | undefined;

let ready: Promise<void> | undefined;
/** Node runs a file's top-level `before` hooks without waiting for the devstack's: set up on first use. */
function setUp(): Promise<void> {
  ready ??= (async () => {
    recorder = await recordAwsCalls(devstackEndpoints(devstack()));
    sqs = new SQSClient(awsClientConfig(devstack().aws, 'sqs'));
    minion = await localAwsMinion(tmp(), {
      awsProfiles: { local: { region: 'us-east-1', keyid: 'AKIDLOCAL', key: SECRET, endpoints: recorder.endpoints } },
    });
  })();
  return ready;
}
after(async () => {
  sqs?.destroy();
  await recorder?.close();
});

const rec = (): AwsRecorder => recorder ?? assert.fail('set up first');
const sqsClient = (): SQSClient => sqs ?? assert.fail('set up first');

async function sls(name: string, text: string): Promise<void> {
  await setUp();
  await writeFile(join(minion.fileRoot, `${name}.sls`), text);
}

const mutating = (): string[] =>
  rec()
    .mutating()
    .map((c) => `${c.service}:${c.action}`);

async function queueAttributes(name: string): Promise<Record<string, string>> {
  const { QueueUrl } = await sqsClient().send(new GetQueueUrlCommand({ QueueName: name }));
  return (
    (await sqsClient().send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))).Attributes ?? {}
  );
}

test('boto_sqs.present: predicts without a mutating call, creates, then changes nothing, then only what differs', async () => {
  await sls(
    'queues',
    `
jobs-dlq:
  boto_sqs.present:
    - profile: local
jobs:
  boto_sqs.present:
    - profile: local
    - attributes:
        VisibilityTimeout: {{ pillar.get('visibility', 60) }}
        DelaySeconds: 0
        RedrivePolicy:
          deadLetterTargetArn: jobs-dlq
          maxReceiveCount: 5
    - tags:
        team: infra
    - require:
      - boto_sqs: jobs-dlq
`,
  );
  rec().clear();
  const predicted = await minion.apply('state.sls', 'queues', 'test=True');
  assert.equal(predicted.code, 0, predicted.raw.stdout + predicted.raw.stderr);
  assert.equal(predicted.byId.jobs?.result, null, JSON.stringify(predicted.byId.jobs));
  assert.match(predicted.byId.jobs?.comment ?? '', /SQS queue jobs would be created/);
  assert.deepEqual((predicted.byId.jobs?.changes as { old: unknown }).old, { queue: null });
  assert.deepEqual(mutating(), [], 'test=True made no mutating call');
  assert.ok(
    rec()
      .calls()
      .some((c) => c.action === 'GetQueueUrl'),
    'the prediction described the queue',
  );
  await assert.rejects(queueAttributes('jobs'), 'nothing was created');

  rec().clear();
  const first = await minion.apply('state.sls', 'queues');
  assert.equal(first.code, 0, first.raw.stdout + first.raw.stderr);
  assert.equal(first.byId.jobs?.result, true, first.byId.jobs?.comment);
  assert.match(first.byId.jobs?.comment ?? '', /created/);
  const created = await queueAttributes('jobs');
  assert.equal(created.VisibilityTimeout, '60');
  const dlqArn = (await queueAttributes('jobs-dlq')).QueueArn;
  assert.equal(JSON.parse(created.RedrivePolicy ?? '{}').deadLetterTargetArn, dlqArn, 'the DLQ named by its name');
  const { QueueUrl } = await sqsClient().send(new GetQueueUrlCommand({ QueueName: 'jobs' }));
  assert.deepEqual((await sqsClient().send(new ListQueueTagsCommand({ QueueUrl }))).Tags, { team: 'infra' });

  rec().clear();
  const second = await minion.apply('state.sls', 'queues');
  assert.deepEqual(
    Object.values(second.byId).map((r) => [r.__id__, r.result, r.changes]),
    [
      ['jobs-dlq', true, {}],
      ['jobs', true, {}],
    ],
  );
  assert.deepEqual(mutating(), [], 'an unchanged queue is only described');

  rec().clear();
  const changed = await minion.apply('state.sls', 'queues', 'pillar={"visibility": 90}');
  assert.equal(changed.byId.jobs?.result, true, changed.byId.jobs?.comment);
  assert.deepEqual(changed.byId.jobs?.changes, {
    old: { attributes: { VisibilityTimeout: '60' } },
    new: { attributes: { VisibilityTimeout: '90' } },
  });
  assert.deepEqual(mutating(), ['sqs:SetQueueAttributes'], 'only the one attribute was set');
  assert.equal((await queueAttributes('jobs')).VisibilityTimeout, '90');
});

test('boto_sqs.absent deletes a queue, predicts first, and is content when it is gone', async () => {
  await sls('gone', 'old-queue:\n  boto_sqs.present:\n    - profile: local\n');
  assert.equal((await minion.apply('state.sls', 'gone')).byId['old-queue']?.result, true);
  await sls('gone', 'old-queue:\n  boto_sqs.absent:\n    - profile: local\n');
  rec().clear();
  const predicted = await minion.apply('state.sls', 'gone', 'test=True');
  assert.equal(predicted.byId['old-queue']?.result, null);
  assert.deepEqual(mutating(), []);
  const removed = await minion.apply('state.sls', 'gone');
  assert.deepEqual(removed.byId['old-queue']?.changes, { old: { queue: 'old-queue' }, new: { queue: null } });
  await assert.rejects(queueAttributes('old-queue'));
  const again = await minion.apply('state.sls', 'gone');
  assert.equal(again.byId['old-queue']?.result, true);
  assert.deepEqual(again.byId['old-queue']?.changes, {});
});

test('a resource AWS refuses fails that state alone, with AWS error code and message', async () => {
  await sls(
    'refused',
    `
too-long-timeout:
  boto_sqs.present:
    - name: refused-queue
    - profile: local
    - attributes:
        VisibilityTimeout: 999999
good:
  boto_sqs.present:
    - name: still-made
    - profile: local
`,
  );
  const run = await minion.apply('state.sls', 'refused');
  assert.equal(run.code, 2);
  const refused = run.byId['too-long-timeout'];
  assert.equal(refused?.result, false);
  assert.match(
    refused?.comment ?? '',
    /^Failed to create SQS queue refused-queue: AWS\.SimpleQueueService\.InvalidAttributeValue: Invalid value for the parameter VisibilityTimeout\. .*\(nothing was changed\)$/,
  );
  assert.deepEqual(refused?.changes, {});
  await assert.rejects(queueAttributes('refused-queue'), 'nothing half-made');
  assert.equal(run.byId.good?.result, true, 'the rest of the run is not affected');
  await queueAttributes('still-made');
});

test('profiles: by name from the minion config or pillar, or a dict; the secret key shows nowhere', async () => {
  await setUp();
  const endpoints = JSON.stringify(rec().endpoints);
  await writeFile(join(minion.pillarRoot, 'top.sls'), "base:\n  '*':\n    - aws\n");
  await writeFile(
    join(minion.pillarRoot, 'aws.sls'),
    `from-pillar:\n  region: us-east-1\n  keyid: AKIDPILLAR\n  key: ${SECRET}\n  endpoints: ${endpoints}\n`,
  );
  await sls(
    'profiles',
    `
by-config-name:
  boto_sqs.present:
    - name: profile-config
    - profile: local
by-pillar-name:
  boto_sqs.present:
    - name: profile-pillar
    - profile: from-pillar
by-dict:
  boto_sqs.present:
    - name: profile-dict
    - profile:
        keyid: AKIDDICT
        key: ${SECRET}
        endpoint: ${rec().endpoints.sqs}
by-arguments:
  boto_sqs.present:
    - name: profile-args
    - keyid: AKIDARGS
    - key: ${SECRET}
    - profile:
        endpoint: ${rec().endpoints.sqs}
unknown-profile:
  boto_sqs.present:
    - name: profile-unknown
    - profile: nowhere
half-credentials:
  boto_sqs.present:
    - name: profile-half
    - keyid: AKIDONLY
    - profile:
        endpoint: ${rec().endpoints.sqs}
`,
  );
  const outputs: string[] = [];
  for (const extra of [['test=True'], [], ['--log-level', 'debug']]) {
    const run = await minion.apply('state.sls', 'profiles', ...extra);
    outputs.push(run.raw.stdout, run.raw.stderr);
    assert.equal(run.byId['unknown-profile']?.result, false);
    assert.equal(
      run.byId['unknown-profile']?.comment,
      "AWS profile 'nowhere' is neither in the minion config's awsProfiles nor in pillar",
    );
    assert.equal(run.byId['half-credentials']?.result, false);
    assert.match(run.byId['half-credentials']?.comment ?? '', /need both keyid and key/);
    for (const id of ['by-config-name', 'by-pillar-name', 'by-dict', 'by-arguments'])
      assert.notEqual(run.byId[id]?.result, false, `${id}: ${run.byId[id]?.comment}`);
  }
  for (const name of ['profile-config', 'profile-pillar', 'profile-dict', 'profile-args']) await queueAttributes(name);
  assert.ok(
    outputs.every((text) => !text.includes(SECRET)),
    'no return, change or log line carries the secret key',
  );
});

test('boto_sns.present creates a topic and adds the subscriptions it lacks; absent unsubscribes and deletes', async () => {
  await setUp();
  const queue = await sqsClient().send(new CreateQueueCommand({ QueueName: 'alerts-inbox' }));
  const queueArn = (
    await sqsClient().send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn;
  assert.ok(queueArn !== undefined);
  const topic = (subscriptions: string) =>
    `alerts:\n  boto_sns.present:\n    - profile: local\n    - subscriptions: ${subscriptions}\n`;
  await sls('topic', topic('[]'));
  rec().clear();
  const predicted = await minion.apply('state.sls', 'topic', 'test=True');
  assert.equal(predicted.byId.alerts?.result, null);
  assert.deepEqual(mutating(), []);
  const first = await minion.apply('state.sls', 'topic');
  assert.deepEqual(first.byId.alerts?.changes, { old: { topic: null }, new: { topic: 'alerts' } });
  await sls('topic', topic(`[{protocol: sqs, endpoint: '${queueArn}'}]`));
  rec().clear();
  const subscribed = await minion.apply('state.sls', 'topic');
  assert.deepEqual(subscribed.byId.alerts?.changes, {
    old: { subscriptions: [] },
    new: { subscriptions: [{ protocol: 'sqs', endpoint: queueArn }] },
  });
  assert.deepEqual(mutating(), ['sns:Subscribe'], 'the topic exists: only the subscription is added');
  const again = await minion.apply('state.sls', 'topic');
  assert.deepEqual(again.byId.alerts?.changes, {});

  const sns = new SNSClient(awsClientConfig(devstack().aws, 'sns'));
  try {
    const arn = (await sns.send(new ListTopicsCommand({}))).Topics?.find((t) =>
      t.TopicArn?.endsWith(':alerts'),
    )?.TopicArn;
    assert.ok(arn !== undefined, 'the topic exists');
    await sls('topic', 'alerts:\n  boto_sns.absent:\n    - profile: local\n    - unsubscribe: True\n');
    rec().clear();
    const removed = await minion.apply('state.sls', 'topic');
    assert.equal(removed.byId.alerts?.result, true, removed.byId.alerts?.comment);
    assert.deepEqual(mutating(), ['sns:Unsubscribe', 'sns:DeleteTopic']);
    const left = (await sns.send(new ListSubscriptionsCommand({}))).Subscriptions ?? [];
    assert.deepEqual(
      left.filter((sub) => sub.TopicArn === arn),
      [],
    );
  } finally {
    sns.destroy();
  }
});

test('boto_dynamodb.present: keys, indexes, billing mode and tags; a change of capacity or a new index changes only that', async () => {
  await setUp();
  const table = (extra: string) => `
sessions:
  boto_dynamodb.present:
    - profile: local
    - hash_key: id
    - range_key: started
    - range_key_data_type: N
    - global_indexes:
      - name: by-user
        hash_key: user
${extra}
    - tags:
        team: infra
`;
  await sls('table', table(''));
  rec().clear();
  const predicted = await minion.apply('state.sls', 'table', 'test=True');
  assert.equal(predicted.byId.sessions?.result, null, predicted.byId.sessions?.comment);
  assert.deepEqual(mutating(), []);
  const first = await minion.apply('state.sls', 'table');
  assert.equal(first.byId.sessions?.result, true, first.byId.sessions?.comment);
  const ddb = new DynamoDBClient(awsClientConfig(devstack().aws, 'dynamodb'));
  try {
    const made = (await ddb.send(new DescribeTableCommand({ TableName: 'sessions' }))).Table;
    assert.equal(made?.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
    assert.deepEqual(
      made?.GlobalSecondaryIndexes?.map((i) => i.IndexName),
      ['by-user'],
    );
    assert.deepEqual((await ddb.send(new ListTagsOfResourceCommand({ ResourceArn: made?.TableArn }))).Tags, [
      { Key: 'team', Value: 'infra' },
    ]);
    rec().clear();
    const second = await minion.apply('state.sls', 'table');
    assert.deepEqual(second.byId.sessions?.changes, {});
    assert.deepEqual(mutating(), []);

    await sls(
      'table',
      table('').replace(
        '    - tags:',
        '    - billing_mode: PROVISIONED\n    - read_capacity_units: 5\n    - write_capacity_units: 2\n    - tags:',
      ),
    );
    rec().clear();
    const changed = await minion.apply('state.sls', 'table');
    assert.equal(changed.byId.sessions?.result, true, changed.byId.sessions?.comment);
    assert.deepEqual(changed.byId.sessions?.changes, {
      old: { capacity: { billing_mode: 'PAY_PER_REQUEST' } },
      new: { capacity: { billing_mode: 'PROVISIONED', read: 5, write: 2 } },
    });
    assert.deepEqual(mutating(), ['dynamodb:UpdateTable'], 'one UpdateTable, for the capacity only');
    const now = (await ddb.send(new DescribeTableCommand({ TableName: 'sessions' }))).Table;
    assert.equal(now?.ProvisionedThroughput?.ReadCapacityUnits, 5);
    assert.equal(now?.GlobalSecondaryIndexes?.[0]?.ProvisionedThroughput?.ReadCapacityUnits, 1);

    // The local DynamoDB answers an UpdateTable that creates a global index and creates nothing:
    // the state checks the index is listed afterwards, and says it is not.
    await sls(
      'table',
      table('      - name: by-device\n        hash_key: device\n').replace(
        '    - tags:',
        '    - billing_mode: PROVISIONED\n    - read_capacity_units: 5\n    - write_capacity_units: 2\n    - tags:',
      ),
    );
    rec().clear();
    const indexed = await minion.apply('state.sls', 'table');
    assert.equal(indexed.byId.sessions?.result, false);
    assert.match(indexed.byId.sessions?.comment ?? '', /global index by-device .* does not list it/);
    assert.deepEqual(mutating(), ['dynamodb:UpdateTable'], 'only the index was asked for');
  } finally {
    ddb.destroy();
  }
});

test('boto_dynamodb: the local DynamoDB has no TTL updates, and the state says so with its error; keys cannot change', async () => {
  await setUp();
  await sls(
    'ttl',
    `
expiring:
  boto_dynamodb.present:
    - profile: local
    - hash_key: id
rekeyed:
  boto_dynamodb.present:
    - name: expiring
    - profile: local
    - hash_key: other
with-ttl:
  boto_dynamodb.present:
    - name: expiring
    - profile: local
    - hash_key: id
    - ttl_attribute: expires_at
`,
  );
  const run = await minion.apply('state.sls', 'ttl');
  assert.equal(run.byId.expiring?.result, true, run.byId.expiring?.comment);
  assert.equal(run.byId.rekeyed?.result, false);
  assert.match(run.byId.rekeyed?.comment ?? '', /has the keys \(id HASH\), not \(other HASH\); DynamoDB cannot change/);
  assert.equal(run.byId['with-ttl']?.result, false);
  assert.match(run.byId['with-ttl']?.comment ?? '', /^Failed to set ttl of DynamoDB table expiring: \w+/);
});
