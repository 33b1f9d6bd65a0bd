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
 * a change of one pillar value changes only that. Queues, topic, table and group run against the
 * devstack's DynamoDB, SQS/SNS and Auto Scaling; the security group, role and alarms against its
 * resource emulator (EC2, IAM, CloudWatch).
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
  /** The states of a run that changed something, with what they changed. */
  const changesOf = (run: { byId: Record<string, { __id__: string; changes: object }> }) =>
    Object.values(run.byId)
      .filter((r) => Object.keys(r.changes).length > 0)
      .map((r) => [r.__id__, r.changes]);
  const ids = [
    'orders-staging-payments-dlq',
    'orders-staging-payments',
    'orders-staging-shipping-dlq',
    'orders-staging-shipping',
    'orders-staging-events',
    'orders-staging-table',
    'orders-staging-security-group',
    'orders-staging-role',
    'orders-staging-group',
    'orders-staging-cpu-alarm',
    'orders-staging-backlog-alarm',
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
  const resources = devstack().resources;
  assert.deepEqual(resources.securityGroups.describe(), [], 'no security group was made');
  assert.deepEqual(resources.iam.describe(), { roles: [], instanceProfiles: [] }, 'no role was made');
  assert.deepEqual(resources.alarms.describe(), [], 'no alarm was made');

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

  const [securityGroup, ...otherGroups] = resources.securityGroups.describe();
  assert.deepEqual(otherGroups, []);
  assert.equal(securityGroup?.name, 'orders-api-staging');
  assert.deepEqual(
    securityGroup?.ingress.map((r) => [r.protocol, r.fromPort, r.toPort, r.cidr]),
    [
      ['tcp', 443, 443, '10.0.0.0/8'],
      ['tcp', 443, 443, '172.16.0.0/12'],
      ['tcp', 22, 22, '10.20.0.0/16'],
    ],
    'the loop over https_from gave one rule two ranges',
  );
  assert.deepEqual(securityGroup?.egress, [{ protocol: '-1', cidr: '0.0.0.0/0' }], 'EC2’s default egress kept');
  const { roles, instanceProfiles } = resources.iam.describe();
  assert.deepEqual(
    roles.map((r) => [
      r.name,
      JSON.parse(r.trustPolicy).Statement[0].Principal,
      [...r.inlinePolicies.keys()],
      r.attachedPolicies,
    ]),
    [
      [
        'orders-api-staging',
        { Service: 'ec2.amazonaws.com' },
        ['consume-queues'],
        ['arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy'],
      ],
    ],
  );
  assert.deepEqual(JSON.parse(roles[0]?.inlinePolicies.get('consume-queues') ?? '{}').Statement[0].Resource, [
    'arn:aws:sqs:us-east-1:000000000000:orders-staging-payments',
    'arn:aws:sqs:us-east-1:000000000000:orders-staging-shipping',
  ]);
  assert.deepEqual(
    instanceProfiles.map((p) => [p.name, p.roles]),
    [['orders-api-staging', ['orders-api-staging']]],
  );
  assert.deepEqual(
    resources.alarms
      .describe()
      .map((a) => [a.AlarmName, a.ComparisonOperator, a.Threshold, a.Dimensions, a.AlarmActions]),
    [
      [
        'orders-api-staging-cpu-high',
        'GreaterThanOrEqualToThreshold',
        80,
        [{ Name: 'AutoScalingGroupName', Value: 'orders-api-staging' }],
        ['arn:aws:sns:us-east-1:000000000000:orders-staging-events'],
      ],
      [
        'orders-staging-payments-backlog',
        'GreaterThanThreshold',
        1000,
        [{ Name: 'QueueName', Value: 'orders-staging-payments' }],
        ['arn:aws:sns:us-east-1:000000000000:orders-staging-events'],
      ],
    ],
  );
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
    assert.deepEqual(changesOf(changed), [
      [
        'orders-staging-shipping',
        { old: { attributes: { VisibilityTimeout: '120' } }, new: { attributes: { VisibilityTimeout: '300' } } },
      ],
    ]);
    assert.deepEqual(mutating(), ['sqs:SetQueueAttributes'], 'one call, for the one attribute');
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders-staging-shipping' }));
    const attributes = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] })))
      .Attributes;
    assert.equal(attributes?.VisibilityTimeout, '300');

    rec.clear();
    const louder = await minion.apply(
      'state.sls',
      'orders',
      'pillar={"orders": {"queues": {"shipping": {"visibility_timeout": 300}}, "alarms": {"cpu_percent": 90}}}',
    );
    assert.deepEqual(changesOf(louder), [
      ['orders-staging-cpu-alarm', { old: { alarm: { Threshold: 80 } }, new: { alarm: { Threshold: 90 } } }],
    ]);
    assert.deepEqual(mutating(), ['cloudwatch:PutMetricAlarm'], 'one call, for the one alarm');
    assert.deepEqual(
      resources.alarms.describe().map((a) => [a.AlarmName, a.Threshold]),
      [
        ['orders-api-staging-cpu-high', 90],
        ['orders-staging-payments-backlog', 1000],
      ],
    );
  } finally {
    sqs.destroy();
    sns.destroy();
  }
});
