import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ListSubscriptionsCommand, SNSClient } from '@aws-sdk/client-sns';
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
 * The example of docs/examples/service-environment, applied as written to the local cloud by a
 * masterless minion: predicted without a mutating call, created, unchanged on the second run, and
 * a change of one pillar value changes only that.
 */

const EXAMPLE = fileURLToPath(new URL('../../docs/examples/service-environment/', import.meta.url));
const devstack = useDevstack();
const tmp = useTempDir('phoenix-aws-show-');
let recorder: AwsRecorder | undefined;
after(async () => {
  await recorder?.close();
});

test("the orders service's environment: predict, create, no changes, then only the one changed attribute", async () => {
  recorder = await recordAwsCalls(devstackEndpoints(devstack()));
  const rec = recorder;
  const minion: LocalAwsMinion = await localAwsMinion(tmp(), {
    awsProfiles: { orders: { keyid: 'AKIDORDERS', key: 'orders-secret', endpoints: rec.endpoints } },
  });
  await cp(`${EXAMPLE}file_roots`, minion.fileRoot, { recursive: true });
  await cp(`${EXAMPLE}pillar_roots`, minion.pillarRoot, { recursive: true });
  const mutating = () => rec.mutating().map((c) => `${c.service}:${c.action}`);
  const ids = [
    'orders-staging-payments-dlq',
    'orders-staging-payments',
    'orders-staging-shipping-dlq',
    'orders-staging-shipping',
    'orders-staging-events',
    'orders-staging-table',
    'orders-staging-group',
  ];

  rec.clear();
  const predicted = await minion.apply('state.sls', 'orders', 'test=True');
  assert.equal(predicted.code, 0, predicted.raw.stdout + predicted.raw.stderr);
  assert.deepEqual(Object.keys(predicted.byId), ids, 'the Jinja loop made both queues and their dead-letter queues');
  assert.deepEqual(
    Object.values(predicted.byId).map((r) => [r.__id__, r.result]),
    ids.map((id) => [id, null]),
  );
  assert.deepEqual(mutating(), [], 'test=True made no mutating call');
  assert.equal(devstack().simulator.describe().groups.length, 2, 'only the devstack’s own groups exist');

  rec.clear();
  const first = await minion.apply('state.sls', 'orders');
  assert.equal(first.code, 0, first.raw.stdout);
  for (const id of ids) {
    assert.equal(first.byId[id]?.result, true, `${id}: ${first.byId[id]?.comment}`);
    assert.notDeepEqual(first.byId[id]?.changes, {}, `${id} was created`);
  }
  const group = devstack()
    .simulator.describe()
    .groups.find((g) => g.name === 'orders-api-staging');
  assert.equal(group?.launchConfigurationName, 'orders-api-staging-r42');
  assert.deepEqual(
    group?.tags.map((t) => [t.key, t.value, t.propagateAtLaunch]),
    [
      ['environment', 'staging', true],
      ['service', 'orders', true],
    ],
  );
  assert.deepEqual(
    group?.hooks.map((h) => h.name),
    ['orders-api-staging-launching'],
  );
  assert.equal(group?.notification?.topicArn.endsWith(':orders-staging-events'), true);
  const sqs = new SQSClient(awsClientConfig(devstack().aws, 'sqs'));
  const sns = new SNSClient(awsClientConfig(devstack().aws, 'sns'));
  try {
    const arnOf = async (name: string) => {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      return (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes
        ?.QueueArn;
    };
    const subscribed = ((await sns.send(new ListSubscriptionsCommand({}))).Subscriptions ?? [])
      .filter((s) => s.TopicArn?.endsWith(':orders-staging-events'))
      .map((s) => s.Endpoint)
      .sort();
    assert.deepEqual(subscribed, [await arnOf('orders-staging-payments'), await arnOf('orders-staging-shipping')]);

    rec.clear();
    const second = await minion.apply('state.sls', 'orders');
    assert.deepEqual(
      Object.values(second.byId).map((r) => [r.__id__, r.result, r.changes]),
      ids.map((id) => [id, true, {}]),
    );
    assert.deepEqual(mutating(), [], 'the second run only described');

    rec.clear();
    const changed = await minion.apply(
      'state.sls',
      'orders',
      'pillar={"orders": {"queues": {"shipping": {"visibility_timeout": 300}}}}',
    );
    assert.deepEqual(
      Object.values(changed.byId)
        .filter((r) => Object.keys(r.changes).length > 0)
        .map((r) => [r.__id__, r.changes]),
      [
        [
          'orders-staging-shipping',
          { old: { attributes: { VisibilityTimeout: '120' } }, new: { attributes: { VisibilityTimeout: '300' } } },
        ],
      ],
    );
    assert.deepEqual(mutating(), ['sqs:SetQueueAttributes'], 'one call, for the one attribute');
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders-staging-shipping' }));
    const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] })))
      .Attributes;
    assert.equal(attributes?.VisibilityTimeout, '300');
  } finally {
    sqs.destroy();
    sns.destroy();
  }
});
