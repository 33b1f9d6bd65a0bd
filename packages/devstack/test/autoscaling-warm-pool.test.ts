import { test, type TestContext } from 'node:test';
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
  DescribeWarmPoolCommand,
  SetDesiredCapacityCommand,
} from '@aws-sdk/client-auto-scaling';
import { parseLifecycleMessage } from '@phoenix/protocol';
import {
  AutoScalingSimulator,
  IdentitySigner,
  LAUNCHING,
  PlaceholderLauncher,
  TERMINATING,
  startAutoScalingServer,
  type GroupConfig,
  type LifecycleHookConfig,
} from '../src/autoscaling/index.js';
import { isRunning } from '../src/testing.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const GROUP = 'web-warm-test';
type Json = Record<string, unknown>;

interface Cloud {
  simulator: AutoScalingSimulator;
  asg: AutoScalingClient;
  /** The next message on the lifecycle queue that `pick` accepts (bounded wait). */
  next(pick: (message: Json) => boolean, what: string): Promise<Json>;
  /** Everything received so far that no `next` took. */
  unclaimed(): Json[];
}

/** fauxqs with the lifecycle queue, the simulator and its API; torn down after the test. */
async function startCloud(t: TestContext, group: GroupConfig, eventBridge = false): Promise<Cloud> {
  const cleanups: Array<() => Promise<void> | void> = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const fauxqs = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
  cleanups.push(() => fauxqs.stop());
  const aws = { region: REGION, endpoint: `http://127.0.0.1:${fauxqs.port}`, credentials: CREDENTIALS };
  const { queueUrl } = fauxqs.createQueue('lifecycle');
  const sqs = new SQSClient(aws);
  const sns = new SNSClient(aws);
  cleanups.push(() => {
    sqs.destroy();
    sns.destroy();
  });
  const logger = pino({ level: process.env.PHOENIX_TEST_LOG ?? 'silent' });
  const simulator = new AutoScalingSimulator({
    groups: [group],
    sqs,
    lifecycleQueueUrl: queueUrl,
    ...(eventBridge ? { eventBridgeQueueUrl: queueUrl } : {}),
    sns,
    accountId: ACCOUNT,
    region: REGION,
    launcher: new PlaceholderLauncher(),
    signer: await IdentitySigner.generate(),
    logger,
  });
  cleanups.push(() => simulator.stop());
  const server = await startAutoScalingServer({ simulator, logger });
  cleanups.push(() => server.close());
  const asg = new AutoScalingClient({ region: REGION, endpoint: server.endpoint, credentials: CREDENTIALS });
  cleanups.push(() => asg.destroy());
  simulator.start();

  const inbox: Json[] = [];
  return {
    simulator,
    asg,
    unclaimed: () => [...inbox],
    async next(pick, what) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const index = inbox.findIndex(pick);
        if (index >= 0) return inbox.splice(index, 1)[0] as Json;
        if (Date.now() > deadline) throw new Error(`no ${what} within 10 s; received ${JSON.stringify(inbox)}`);
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        for (const message of Messages) {
          inbox.push(JSON.parse(message.Body ?? 'null') as Json);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
        }
      }
    },
  };
}

function hooks(notifyQueue = true): LifecycleHookConfig[] {
  return [
    { name: 'launching', transition: LAUNCHING, heartbeatTimeoutSeconds: 60, defaultResult: 'ABANDON', notifyQueue },
    {
      name: 'terminating',
      transition: TERMINATING,
      heartbeatTimeoutSeconds: 60,
      defaultResult: 'CONTINUE',
      notifyQueue,
    },
  ];
}

const hookMessage =
  (transition: string, origin: string, destination: string, instanceId?: string) =>
  (m: Json): boolean =>
    m.LifecycleTransition === transition &&
    m.Origin === origin &&
    m.Destination === destination &&
    (instanceId === undefined || m.EC2InstanceId === instanceId);

async function complete(cloud: Cloud, message: Json, hookName: string): Promise<void> {
  await cloud.asg.send(
    new CompleteLifecycleActionCommand({
      AutoScalingGroupName: GROUP,
      LifecycleHookName: hookName,
      LifecycleActionToken: String(message.LifecycleActionToken),
      LifecycleActionResult: 'CONTINUE',
    }),
  );
}

const stateOf = async (cloud: Cloud, instanceId: string): Promise<string | undefined> => {
  const { AutoScalingInstances = [] } = await cloud.asg.send(
    new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
  );
  return AutoScalingInstances[0]?.LifecycleState;
};

test('a warm pool: prepared and stopped, put into service on scale-out, returned to the pool on scale-in', async (t) => {
  const cloud = await startCloud(t, {
    name: GROUP,
    minSize: 0,
    maxSize: 5,
    desiredCapacity: 0,
    hooks: hooks(),
    warmPool: { minSize: 1, reuseOnScaleIn: true },
  });

  // Into the pool: held by the launch hook in Warmed:Pending:Wait, as AWS does, then stopped.
  const warming = await cloud.next(hookMessage(LAUNCHING, 'EC2', 'WarmPool'), 'a launch into the warm pool');
  const id = String(warming.EC2InstanceId);
  assert.equal(await stateOf(cloud, id), 'Warmed:Pending:Wait');
  const { AutoScalingGroups = [] } = await cloud.asg.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [GROUP] }),
  );
  assert.deepEqual(AutoScalingGroups[0]?.Instances, [], "the pool's instances are not the group's");
  const firstPid = cloud.simulator.instance(id)?.pid;
  assert.ok(firstPid !== undefined && (await isRunning(firstPid)), 'it boots in the pool');
  await complete(cloud, warming, 'launching');
  await cloud.simulator.waitFor(() => cloud.simulator.instance(id)?.lifecycleState === 'Warmed:Stopped', {
    what: 'the prepared instance stopped in the pool',
  });
  assert.equal(await isRunning(firstPid), false, 'a stopped warm instance has no process');
  const pool = await cloud.asg.send(new DescribeWarmPoolCommand({ AutoScalingGroupName: GROUP }));
  assert.equal(pool.WarmPoolConfiguration?.MinSize, 1);
  assert.deepEqual(
    pool.Instances?.map((i) => [i.InstanceId, i.LifecycleState]),
    [[id, 'Warmed:Stopped']],
  );

  // Scale-out takes it from the pool: started again, held by the launch hook on its way in.
  await cloud.asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: GROUP, DesiredCapacity: 1 }));
  const leaving = await cloud.next(hookMessage(LAUNCHING, 'WarmPool', 'AutoScalingGroup', id), 'the pool instance');
  assert.equal(await stateOf(cloud, id), 'Pending:Wait');
  const secondPid = cloud.simulator.instance(id)?.pid;
  assert.ok(secondPid !== undefined && secondPid !== firstPid && (await isRunning(secondPid)));
  // The pool is refilled with a new instance.
  const refill = await cloud.next(hookMessage(LAUNCHING, 'EC2', 'WarmPool'), 'a new instance for the pool');
  assert.notEqual(refill.EC2InstanceId, id);
  await complete(cloud, leaving, 'launching');
  await cloud.simulator.waitFor(() => cloud.simulator.instance(id)?.lifecycleState === 'InService', {
    what: 'the instance in service',
  });

  // Scale-in with instance reuse: back to the pool through the terminate hook, not terminated.
  await cloud.asg.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: GROUP, DesiredCapacity: 0 }));
  const returning = await cloud.next(hookMessage(TERMINATING, 'AutoScalingGroup', 'WarmPool', id), 'the return');
  assert.equal(await stateOf(cloud, id), 'Warmed:Pending:Wait');
  await complete(cloud, returning, 'terminating');
  await cloud.simulator.waitFor(() => cloud.simulator.instance(id)?.lifecycleState === 'Warmed:Stopped', {
    what: 'the instance back in the pool, stopped',
  });
  assert.equal(await isRunning(secondPid), false);
});

test('through EventBridge: lifecycle actions and scaling events in AWS shapes, and no hook message of their own', async (t) => {
  const cloud = await startCloud(
    t,
    { name: GROUP, minSize: 0, maxSize: 5, desiredCapacity: 1, hooks: hooks(false) },
    true,
  );
  const action = await cloud.next((m) => m['detail-type'] === 'EC2 Instance-launch Lifecycle Action', 'an action');
  assert.deepEqual(Object.keys(action), [
    'version',
    'id',
    'detail-type',
    'source',
    'account',
    'time',
    'region',
    'resources',
    'detail',
  ]);
  assert.equal(action.source, 'aws.autoscaling');
  assert.equal(action.account, ACCOUNT);
  assert.equal(action.region, REGION);
  assert.match(String(action.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const detail = action.detail as Json;
  assert.deepEqual(Object.keys(detail), [
    'LifecycleActionToken',
    'AutoScalingGroupName',
    'LifecycleHookName',
    'EC2InstanceId',
    'LifecycleTransition',
    'Origin',
    'Destination',
  ]);
  assert.equal(detail.Destination, 'AutoScalingGroup');
  const id = String(detail.EC2InstanceId);
  assert.match(
    String((action.resources as string[])[0]),
    /^arn:aws:autoscaling:.*autoScalingGroupName\/web-warm-test$/,
  );
  // Phoenix's own parser reads what the simulator sends.
  const parsed = parseLifecycleMessage(JSON.stringify(action));
  assert.ok(parsed.ok && parsed.event.kind === 'hook' && parsed.event.instanceId === id);

  await complete(cloud, detail, 'launching');
  const launched = await cloud.next((m) => m['detail-type'] === 'EC2 Instance Launch Successful', 'launch success');
  assert.deepEqual(launched.resources, [
    (action.resources as string[])[0],
    `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${id}`,
  ]);
  assert.equal((launched.detail as Json).EC2InstanceId, id);
  assert.equal((launched.detail as Json).StatusCode, 'InProgress');
  assert.deepEqual(
    cloud.unclaimed().filter((m) => 'LifecycleTransition' in m),
    [],
    'a hook without a notification target sends no message of its own',
  );
});
