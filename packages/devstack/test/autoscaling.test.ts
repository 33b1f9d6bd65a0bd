import { before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startFauxqs } from 'fauxqs';
import { pino } from 'pino';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  AutoScalingSimulator,
  IdentitySigner,
  LAUNCHING,
  PlaceholderLauncher,
  TERMINATING,
  startAutoScalingServer,
  type AutoScalingSnapshot,
  type GroupConfig,
  type InstanceSnapshot,
  type LifecycleHookConfig,
} from '../src/autoscaling/index.js';
import { descendantPids, isRunning } from '../src/testing.js';
import { ManualClock } from '@phoenix/protocol';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const MASTERS = 'phoenix-master-test';
const MINIONS = 'demo-web-test';
const INSTANCE_ID = /^i-[0-9a-f]{17}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOOK_KEYS = [
  'Origin',
  'LifecycleHookName',
  'Destination',
  'AccountId',
  'RequestId',
  'LifecycleTransition',
  'AutoScalingGroupName',
  'Service',
  'Time',
  'EC2InstanceId',
  'LifecycleActionToken',
];
const NOTIFICATION_KEYS = [
  'Progress',
  'AccountId',
  'Description',
  'RequestId',
  'EndTime',
  'AutoScalingGroupARN',
  'ActivityId',
  'StartTime',
  'Service',
  'Time',
  'EC2InstanceId',
  'StatusCode',
  'StatusMessage',
  'Details',
  'AutoScalingGroupName',
  'Cause',
  'Event',
];

type Json = Record<string, unknown>;
interface Notification {
  envelope: Json;
  body: Json;
}

interface Cloud {
  simulator: AutoScalingSimulator;
  asg: AutoScalingClient;
  endpoint: string;
  topicArns: Record<string, string>;
  /** The next lifecycle-hook message (raw, as AWS sends it to SQS) that matches. */
  hookMessage(groupName: string, transition: string, instanceId?: string): Promise<Json>;
  /** The next group notification (inside its SNS envelope) that matches. */
  notification(groupName: string, event: string, instanceId?: string): Promise<Notification>;
}

let signer: IdentitySigner;
before(async () => {
  signer = await IdentitySigner.generate();
});

/**
 * fauxqs with the lifecycle queue and one topic per group (the queue subscribed to each, so
 * notifications arrive SNS-wrapped), the simulator, its API server and an SDK client; all torn
 * down after the test, whatever its outcome.
 */
async function startCloud(t: TestContext, groups: GroupConfig[], clock?: ManualClock): Promise<Cloud> {
  const cleanups: Array<() => Promise<void> | void> = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const fauxqs = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
  cleanups.push(() => fauxqs.stop());
  const aws = { region: REGION, endpoint: `http://127.0.0.1:${fauxqs.port}`, credentials: CREDENTIALS };
  const { queueUrl } = fauxqs.createQueue('lifecycle');
  const topicArns: Record<string, string> = {};
  for (const group of groups) {
    topicArns[group.name] = fauxqs.createTopic(`${group.name}-notifications`).topicArn;
    fauxqs.subscribe({ topic: `${group.name}-notifications`, queue: 'lifecycle' });
  }
  const sqs = new SQSClient(aws);
  const sns = new SNSClient(aws);
  cleanups.push(() => {
    sqs.destroy();
    sns.destroy();
  });
  const logger = pino({ level: process.env.PHOENIX_TEST_LOG ?? 'silent' });
  const simulator = new AutoScalingSimulator({
    groups: groups.map((group) => ({ ...group, topicArn: topicArns[group.name] })),
    sqs,
    lifecycleQueueUrl: queueUrl,
    sns,
    accountId: ACCOUNT,
    region: REGION,
    launcher: new PlaceholderLauncher(),
    signer,
    logger,
    ...(clock === undefined ? {} : { clock }),
  });
  cleanups.push(() => simulator.stop());
  const server = await startAutoScalingServer({ simulator, logger });
  cleanups.push(() => server.close());
  const asg = new AutoScalingClient({
    region: REGION,
    endpoint: server.endpoint,
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
  cleanups.push(() => asg.destroy());
  simulator.start();

  const inbox: Json[] = [];
  const receive = async <T>(pick: (message: Json) => T | undefined, what: string, timeoutMs = 10_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const [index, message] of inbox.entries()) {
        const picked = pick(message);
        if (picked !== undefined) {
          inbox.splice(index, 1);
          return picked;
        }
      }
      if (Date.now() > deadline)
        throw new Error(`no ${what} within ${timeoutMs} ms; received ${JSON.stringify(inbox)}`);
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of Messages) {
        inbox.push(JSON.parse(message.Body ?? 'null') as Json);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
      }
    }
  };
  return {
    simulator,
    asg,
    endpoint: server.endpoint,
    topicArns,
    hookMessage: (groupName, transition, instanceId) =>
      receive(
        (m) =>
          m.AutoScalingGroupName === groupName &&
          m.LifecycleTransition === transition &&
          (instanceId === undefined || m.EC2InstanceId === instanceId)
            ? m
            : undefined,
        `${transition} hook message for ${groupName}`,
      ),
    notification: (groupName, event, instanceId) =>
      receive((envelope) => {
        if (envelope.Type !== 'Notification' || typeof envelope.Message !== 'string') return undefined;
        const body = JSON.parse(envelope.Message) as Json;
        const matches =
          body.AutoScalingGroupName === groupName &&
          body.Event === event &&
          (instanceId === undefined || body.EC2InstanceId === instanceId);
        return matches ? { envelope, body } : undefined;
      }, `${event} notification for ${groupName}`),
  };
}

function instancesOf(snapshot: AutoScalingSnapshot, groupName: string): readonly InstanceSnapshot[] {
  return snapshot.groups.find((group) => group.name === groupName)?.instances ?? [];
}

function inState(snapshot: AutoScalingSnapshot, groupName: string, state: string): InstanceSnapshot[] {
  return instancesOf(snapshot, groupName).filter((instance) => instance.lifecycleState === state);
}

function hooks(timeoutSeconds: number, launchDefault: 'CONTINUE' | 'ABANDON' = 'ABANDON'): LifecycleHookConfig[] {
  return [
    {
      name: 'launching',
      transition: LAUNCHING,
      heartbeatTimeoutSeconds: timeoutSeconds,
      defaultResult: launchDefault,
      notificationMetadata: '{"role":"master"}',
    },
    {
      name: 'terminating',
      transition: TERMINATING,
      heartbeatTimeoutSeconds: timeoutSeconds,
      defaultResult: 'CONTINUE',
    },
  ];
}

async function assertGone(pid: number | undefined): Promise<void> {
  assert.ok(pid !== undefined, 'the instance had a process');
  assert.equal(await isRunning(pid), false, `process ${pid} is gone`);
}

test('a launched instance is held in Pending:Wait until CompleteLifecycleAction CONTINUE, then InService with an EC2_INSTANCE_LAUNCH notification', async (t) => {
  const cloud = await startCloud(t, [
    { name: MASTERS, minSize: 0, maxSize: 3, desiredCapacity: 1, hooks: hooks(60) },
    { name: MINIONS, minSize: 0, maxSize: 10, desiredCapacity: 1 },
  ]);

  const hook = await cloud.hookMessage(MASTERS, LAUNCHING);
  assert.deepEqual(Object.keys(hook), [...HOOK_KEYS, 'NotificationMetadata']);
  assert.equal(hook.Origin, 'EC2');
  assert.equal(hook.Destination, 'AutoScalingGroup');
  assert.equal(hook.LifecycleHookName, 'launching');
  assert.equal(hook.AccountId, ACCOUNT);
  assert.equal(hook.Service, 'AWS Auto Scaling');
  assert.equal(hook.NotificationMetadata, '{"role":"master"}');
  assert.match(String(hook.EC2InstanceId), INSTANCE_ID);
  assert.match(String(hook.LifecycleActionToken), UUID);
  assert.match(String(hook.RequestId), UUID);
  assert.ok(!Number.isNaN(Date.parse(String(hook.Time))));
  const instanceId = String(hook.EC2InstanceId);

  // Held, but already booted: its process runs while it waits.
  const held = cloud.simulator.instance(instanceId);
  assert.equal(held?.lifecycleState, 'Pending:Wait');
  assert.ok(held?.pid !== undefined && (await isRunning(held.pid)));
  const described = await cloud.asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
  assert.equal(described.AutoScalingInstances?.[0]?.LifecycleState, 'Pending:Wait');

  // A group without hooks goes straight through, and notifies on its own topic.
  const minion = await cloud.notification(MINIONS, 'autoscaling:EC2_INSTANCE_LAUNCH');
  assert.equal(minion.envelope.TopicArn, cloud.topicArns[MINIONS]);
  assert.equal(cloud.simulator.instance(String(minion.body.EC2InstanceId))?.lifecycleState, 'InService');

  await cloud.asg.send(
    new CompleteLifecycleActionCommand({
      AutoScalingGroupName: MASTERS,
      LifecycleHookName: 'launching',
      LifecycleActionToken: String(hook.LifecycleActionToken),
      LifecycleActionResult: 'CONTINUE',
    }),
  );
  const { envelope, body } = await cloud.notification(MASTERS, 'autoscaling:EC2_INSTANCE_LAUNCH', instanceId);
  assert.equal(envelope.Type, 'Notification');
  assert.equal(envelope.TopicArn, cloud.topicArns[MASTERS]);
  assert.equal(envelope.Subject, `Auto Scaling: launch for group "${MASTERS}"`);
  assert.deepEqual(Object.keys(body), NOTIFICATION_KEYS);
  assert.equal(body.StatusCode, 'InProgress');
  assert.equal(body.Description, `Launching a new EC2 instance: ${instanceId}`);
  assert.equal(body.RequestId, hook.RequestId, 'the launch activity is the one the hook message named');
  assert.match(
    String(body.AutoScalingGroupARN),
    new RegExp(`^arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:.+:autoScalingGroupName/${MASTERS}$`),
  );
  assert.deepEqual(Object.keys(body.Details as Json), ['Subnet ID', 'Availability Zone']);
  assert.equal(cloud.simulator.instance(instanceId)?.lifecycleState, 'InService');
});

test('a wrong token, an unknown instance or group and a bad result are refused with AWS ValidationErrors, and nothing changes', async (t) => {
  const cloud = await startCloud(t, [{ name: MASTERS, minSize: 0, maxSize: 3, desiredCapacity: 1, hooks: hooks(60) }]);
  const hook = await cloud.hookMessage(MASTERS, LAUNCHING);
  const instanceId = String(hook.EC2InstanceId);
  const complete = (input: Partial<ConstructorParameters<typeof CompleteLifecycleActionCommand>[0]>) =>
    cloud.asg.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: MASTERS,
        LifecycleHookName: 'launching',
        LifecycleActionResult: 'CONTINUE',
        ...input,
      }),
    );
  const refusal = (message: string) => (err: unknown) => {
    const error = err as Error & { $metadata?: { httpStatusCode?: number } };
    assert.equal(error.name, 'ValidationError');
    assert.equal(error.message, message);
    assert.equal(error.$metadata?.httpStatusCode, 400);
    return true;
  };

  const wrongToken = '11111111-2222-4333-8444-555555555555';
  await assert.rejects(
    complete({ LifecycleActionToken: wrongToken }),
    refusal(`No active Lifecycle Action found with token ${wrongToken}`),
  );
  await assert.rejects(
    complete({ InstanceId: 'i-0123456789abcdef0' }),
    refusal('No active Lifecycle Action found with instance ID i-0123456789abcdef0'),
  );
  await assert.rejects(
    complete({ InstanceId: instanceId, LifecycleHookName: 'no-such-hook' }),
    refusal(`No active Lifecycle Action found with instance ID ${instanceId}`),
  );
  await assert.rejects(
    complete({ AutoScalingGroupName: 'no-such-group', InstanceId: instanceId }),
    refusal('AutoScalingGroup name not found - AutoScalingGroup no-such-group not found'),
  );
  await assert.rejects(
    complete({ InstanceId: instanceId, LifecycleActionResult: 'MAYBE' }),
    refusal(
      "1 validation error detected: Value 'MAYBE' at 'lifecycleActionResult' failed to satisfy constraint: Member must satisfy enum value set: [CONTINUE, ABANDON]",
    ),
  );
  await assert.rejects(
    cloud.asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: MASTERS, DesiredCapacity: 4 })),
    refusal('New SetDesiredCapacity value 4 is above max value 3 for the AutoScalingGroup.'),
  );

  // The exact wire shape AWS answers with.
  const response = await fetch(cloud.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      Action: 'CompleteLifecycleAction',
      Version: '2011-01-01',
      AutoScalingGroupName: MASTERS,
      LifecycleHookName: 'launching',
      LifecycleActionResult: 'CONTINUE',
      LifecycleActionToken: wrongToken,
    }),
  });
  assert.equal(response.status, 400);
  assert.match(
    await response.text(),
    new RegExp(
      '^<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type>' +
        `<Code>ValidationError</Code><Message>No active Lifecycle Action found with token ${wrongToken}</Message>` +
        '</Error><RequestId>[0-9a-f-]{36}</RequestId></ErrorResponse>$',
    ),
  );

  const [group] = cloud.simulator.describe().groups;
  assert.equal(group?.desiredCapacity, 1);
  assert.deepEqual(
    group?.instances.map((instance) => [instance.instanceId, instance.lifecycleState]),
    [[instanceId, 'Pending:Wait']],
  );
});

test('heartbeats keep an instance held; when they stop, the default result CONTINUE applies', async (t) => {
  const clock = new ManualClock();
  const cloud = await startCloud(
    t,
    [{ name: MASTERS, minSize: 0, maxSize: 3, desiredCapacity: 1, hooks: hooks(1, 'CONTINUE') }],
    clock,
  );
  const hook = await cloud.hookMessage(MASTERS, LAUNCHING);
  const instanceId = String(hook.EC2InstanceId);
  const state = () => cloud.simulator.instance(instanceId)?.lifecycleState;
  // A heartbeat at 0.6 s moves the 1 s timeout to 1.6 s.
  clock.advance(600);
  await cloud.asg.send(
    new RecordLifecycleActionHeartbeatCommand({
      AutoScalingGroupName: MASTERS,
      LifecycleHookName: 'launching',
      LifecycleActionToken: String(hook.LifecycleActionToken),
    }),
  );
  assert.deepEqual(clock.pending(), [1_000], 'the heartbeat restarted the timeout');
  clock.advance(999);
  assert.equal(state(), 'Pending:Wait', 'still held past the first timeout');
  clock.advance(1);
  await cloud.simulator.waitFor((s) => inState(s, MASTERS, 'InService').length === 1, { timeoutMs: 5_000 });
  await cloud.notification(MASTERS, 'autoscaling:EC2_INSTANCE_LAUNCH', instanceId);
});

test('a launch that times out with default ABANDON is terminated, reported as EC2_INSTANCE_LAUNCH_ERROR and replaced', async (t) => {
  const cloud = await startCloud(t, [{ name: MASTERS, minSize: 0, maxSize: 3, desiredCapacity: 1, hooks: hooks(0.3) }]);
  const hook = await cloud.hookMessage(MASTERS, LAUNCHING);
  const instanceId = String(hook.EC2InstanceId);
  const pid = cloud.simulator.instance(instanceId)?.pid;
  const { envelope, body } = await cloud.notification(MASTERS, 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR', instanceId);
  assert.equal(envelope.Subject, `Auto Scaling: failed launch for group "${MASTERS}"`);
  assert.equal(body.StatusCode, 'Failed');
  assert.match(String(body.StatusMessage), /ABANDON/);
  assert.equal(cloud.simulator.instance(instanceId)?.lifecycleState, 'Terminated');
  await assertGone(pid);
  const replacement = await cloud.hookMessage(MASTERS, LAUNCHING);
  assert.notEqual(replacement.EC2InstanceId, instanceId);
});

test('CompleteLifecycleAction ABANDON by instance id terminates the instance', async (t) => {
  const cloud = await startCloud(t, [{ name: MASTERS, minSize: 0, maxSize: 3, desiredCapacity: 1, hooks: hooks(60) }]);
  const hook = await cloud.hookMessage(MASTERS, LAUNCHING);
  const instanceId = String(hook.EC2InstanceId);
  const pid = cloud.simulator.instance(instanceId)?.pid;
  await cloud.asg.send(
    new CompleteLifecycleActionCommand({
      AutoScalingGroupName: MASTERS,
      LifecycleHookName: 'launching',
      InstanceId: instanceId,
      LifecycleActionResult: 'ABANDON',
    }),
  );
  await cloud.notification(MASTERS, 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR', instanceId);
  assert.equal(cloud.simulator.instance(instanceId)?.lifecycleState, 'Terminated');
  await assertGone(pid);
});

test('scale-in by SetDesiredCapacity holds the newest instance in Terminating:Wait, then terminates it and its process', async (t) => {
  const cloud = await startCloud(t, [
    {
      name: MINIONS,
      minSize: 0,
      maxSize: 5,
      desiredCapacity: 2,
      hooks: hooks(60).filter((h) => h.transition === TERMINATING),
    },
  ]);
  const ready = await cloud.simulator.waitFor((s) => inState(s, MINIONS, 'InService').length === 2);
  const [oldest, newest] = instancesOf(ready, MINIONS);

  await cloud.asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: MINIONS, DesiredCapacity: 1 }));
  const hook = await cloud.hookMessage(MINIONS, TERMINATING);
  assert.deepEqual(Object.keys(hook), HOOK_KEYS);
  assert.equal(hook.EC2InstanceId, newest?.instanceId, 'newest first');
  assert.equal(hook.Origin, 'AutoScalingGroup');
  assert.equal(hook.Destination, 'EC2');
  const waiting = cloud.simulator.instance(String(hook.EC2InstanceId));
  assert.equal(waiting?.lifecycleState, 'Terminating:Wait');
  assert.ok(waiting?.pid !== undefined && (await isRunning(waiting.pid)), 'it runs while held');

  await cloud.asg.send(
    new CompleteLifecycleActionCommand({
      AutoScalingGroupName: MINIONS,
      LifecycleHookName: 'terminating',
      LifecycleActionToken: String(hook.LifecycleActionToken),
      LifecycleActionResult: 'CONTINUE',
    }),
  );
  const { envelope, body } = await cloud.notification(
    MINIONS,
    'autoscaling:EC2_INSTANCE_TERMINATE',
    newest?.instanceId,
  );
  assert.equal(envelope.Subject, `Auto Scaling: termination for group "${MINIONS}"`);
  assert.equal(body.Description, `Terminating EC2 instance: ${newest?.instanceId}`);
  assert.equal(cloud.simulator.instance(String(newest?.instanceId))?.lifecycleState, 'Terminated');
  await assertGone(newest?.pid);

  const { AutoScalingGroups = [] } = await cloud.asg.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [MINIONS] }),
  );
  assert.equal(AutoScalingGroups[0]?.DesiredCapacity, 1);
  assert.deepEqual(
    AutoScalingGroups[0]?.Instances?.map((instance) => [instance.InstanceId, instance.LifecycleState]),
    [[oldest?.instanceId, 'InService']],
  );
});

test('TerminateInstanceInAutoScalingGroup replaces the instance, or shrinks the group when asked, never below its minimum', async (t) => {
  const cloud = await startCloud(t, [{ name: MINIONS, minSize: 1, maxSize: 5, desiredCapacity: 2 }]);
  const ready = await cloud.simulator.waitFor((s) => inState(s, MINIONS, 'InService').length === 2);
  const [first, second] = instancesOf(ready, MINIONS);

  const { Activity } = await cloud.asg.send(
    new TerminateInstanceInAutoScalingGroupCommand({
      InstanceId: first?.instanceId,
      ShouldDecrementDesiredCapacity: false,
    }),
  );
  assert.equal(Activity?.AutoScalingGroupName, MINIONS);
  assert.equal(Activity?.Description, `Terminating EC2 instance: ${first?.instanceId}`);
  assert.equal(Activity?.StatusCode, 'InProgress');
  assert.ok(Activity?.StartTime instanceof Date);
  await cloud.simulator.waitFor(
    (s) => inState(s, MINIONS, 'InService').length === 2 && inState(s, MINIONS, 'Terminated').length === 1,
    { what: 'a replacement in service' },
  );
  await assertGone(first?.pid);

  await cloud.asg.send(
    new TerminateInstanceInAutoScalingGroupCommand({
      InstanceId: second?.instanceId,
      ShouldDecrementDesiredCapacity: true,
    }),
  );
  const shrunk = await cloud.simulator.waitFor((s) => inState(s, MINIONS, 'Terminated').length === 2);
  assert.equal(shrunk.groups[0]?.desiredCapacity, 1);
  const [last] = inState(shrunk, MINIONS, 'InService');

  await assert.rejects(
    cloud.asg.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: last?.instanceId,
        ShouldDecrementDesiredCapacity: true,
      }),
    ),
    (err: Error) => err.name === 'ValidationError' && /violate group's min size constraint/.test(err.message),
  );
  await assert.rejects(
    cloud.asg.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: 'i-00000000000000000',
        ShouldDecrementDesiredCapacity: false,
      }),
    ),
    {
      name: 'ValidationError',
      message: 'Instance Id not found - No managed instance found for instance ID: i-00000000000000000',
    },
  );
  assert.equal(cloud.simulator.instance(String(last?.instanceId))?.lifecycleState, 'InService');
});

test('DescribeAutoScalingGroups and DescribeAutoScalingInstances answer through the AWS SDK', async (t) => {
  const cloud = await startCloud(t, [
    { name: MASTERS, minSize: 1, maxSize: 3, desiredCapacity: 1 },
    { name: MINIONS, minSize: 0, maxSize: 10, desiredCapacity: 2 },
  ]);
  await cloud.simulator.waitFor((s) =>
    s.groups.every((g) => inState(s, g.name, 'InService').length === g.desiredCapacity),
  );

  const all = await cloud.asg.send(new DescribeAutoScalingGroupsCommand({}));
  assert.deepEqual(
    all.AutoScalingGroups?.map((g) => g.AutoScalingGroupName),
    [MASTERS, MINIONS],
  );
  const some = await cloud.asg.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [MINIONS, 'unknown'] }),
  );
  const [minions] = some.AutoScalingGroups ?? [];
  assert.equal(some.AutoScalingGroups?.length, 1);
  assert.equal(minions?.AutoScalingGroupName, MINIONS);
  assert.deepEqual([minions?.MinSize, minions?.MaxSize, minions?.DesiredCapacity], [0, 10, 2]);
  assert.deepEqual(minions?.AvailabilityZones, [`${REGION}a`]);
  assert.ok(minions?.CreatedTime instanceof Date);
  assert.match(String(minions?.AutoScalingGroupARN), /^arn:aws:autoscaling:/);
  assert.equal(minions?.Instances?.length, 2);
  for (const instance of minions?.Instances ?? []) {
    assert.match(String(instance.InstanceId), INSTANCE_ID);
    assert.equal(instance.LifecycleState, 'InService');
    assert.equal(instance.HealthStatus, 'Healthy');
    assert.equal(instance.ProtectedFromScaleIn, false);
  }

  const { AutoScalingInstances = [] } = await cloud.asg.send(new DescribeAutoScalingInstancesCommand({}));
  assert.equal(AutoScalingInstances.length, 3);
  const one = await cloud.asg.send(
    new DescribeAutoScalingInstancesCommand({
      InstanceIds: [String(minions?.Instances?.[0]?.InstanceId), 'i-00000000000000000'],
    }),
  );
  assert.deepEqual(
    one.AutoScalingInstances?.map((i) => [i.InstanceId, i.AutoScalingGroupName, i.LifecycleState, i.HealthStatus]),
    [[minions?.Instances?.[0]?.InstanceId, MINIONS, 'InService', 'HEALTHY']],
  );
});

test('malformed, unknown and oversized requests get AWS XML errors and the server keeps serving', async (t) => {
  const cloud = await startCloud(t, [{ name: MINIONS, minSize: 0, maxSize: 10, desiredCapacity: 0 }]);
  const post = async (
    body: string | Uint8Array,
  ): Promise<{ status: number; code: string | undefined; xml: string }> => {
    const response = await fetch(cloud.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    const xml = await response.text();
    return { status: response.status, code: /<Code>([^<]*)<\/Code>/.exec(xml)?.[1], xml };
  };

  const garbage = await post(new Uint8Array([0, 255, 37, 37, 61, 38, 0xc3, 0x28, 10, 13]));
  assert.deepEqual([garbage.status, garbage.code], [400, 'MissingAction']);
  assert.match(
    garbage.xml,
    /^<ErrorResponse xmlns="http:\/\/autoscaling\.amazonaws\.com\/doc\/2011-01-01\/"><Error><Type>Sender<\/Type>/,
  );

  const unknown = await post('Action=LaunchMissiles&Version=2011-01-01');
  assert.deepEqual([unknown.status, unknown.code], [400, 'InvalidAction']);
  assert.match(unknown.xml, /<Message>Could not find operation LaunchMissiles for version 2011-01-01<\/Message>/);
  assert.equal((await post('Action=constructor&Version=2011-01-01')).code, 'InvalidAction');
  assert.equal((await post('Action=DescribeAutoScalingGroups&Version=2099-01-01')).code, 'InvalidAction');

  const missing = await post(`Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=${MINIONS}`);
  assert.deepEqual([missing.status, missing.code], [400, 'ValidationError']);
  assert.match(missing.xml, /Value null at 'desiredCapacity' failed to satisfy constraint: Member must not be null/);
  const notANumber = await post(
    `Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=${MINIONS}&DesiredCapacity=lots`,
  );
  assert.equal(notANumber.code, 'ValidationError');
  const unknownGroup = await post(
    'Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=%3Cx%3E&DesiredCapacity=1',
  );
  assert.match(
    unknownGroup.xml,
    /<Message>AutoScalingGroup name not found - AutoScalingGroup &lt;x&gt; not found<\/Message>/,
  );

  const oversized = await post(`Action=DescribeAutoScalingGroups&Version=2011-01-01&Pad=${'x'.repeat(200_000)}`);
  assert.deepEqual([oversized.status, oversized.code], [413, 'RequestEntityTooLarge']);

  const { AutoScalingGroups = [] } = await cloud.asg.send(new DescribeAutoScalingGroupsCommand({}));
  assert.equal(AutoScalingGroups[0]?.DesiredCapacity, 0, 'nothing changed, and the server still answers');
});

test('stop() ends every instance process and leaves no child behind', async (t) => {
  const cloud = await startCloud(t, [
    { name: MASTERS, minSize: 0, maxSize: 3, desiredCapacity: 1, hooks: hooks(60) },
    { name: MINIONS, minSize: 0, maxSize: 10, desiredCapacity: 3 },
  ]);
  const running = await cloud.simulator.waitFor(
    (s) => inState(s, MINIONS, 'InService').length === 3 && inState(s, MASTERS, 'Pending:Wait').length === 1,
  );
  const pids = running.groups.flatMap((g) => g.instances.map((i) => i.pid));
  assert.equal(pids.length, 4);
  await cloud.simulator.stop();
  for (const pid of pids) await assertGone(pid);
  assert.deepEqual(await descendantPids(process.pid), []);
});
