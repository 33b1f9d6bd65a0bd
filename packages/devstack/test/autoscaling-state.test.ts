import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { pino } from 'pino';
import { isPhoenixError } from '@phoenix/protocol';
import {
  AutoScalingSimulator,
  LAUNCHING,
  type AutoScalingSimulatorOptions,
  type GroupConfig,
  type InstanceLauncher,
} from '../src/autoscaling/index.js';

const GROUP = 'demo-web-test';

/** A simulator with no hooks and no topics: pure state machine, no SQS, SNS or HTTP is reached. */
function simulator(
  groups: GroupConfig[],
  launcher: InstanceLauncher,
  extra: Partial<AutoScalingSimulatorOptions> = {},
) {
  return new AutoScalingSimulator({
    groups,
    sqs: new SQSClient({ region: 'us-east-1' }),
    lifecycleQueueUrl: 'http://127.0.0.1:1/000000000000/unused',
    sns: new SNSClient({ region: 'us-east-1' }),
    accountId: '123456789012',
    region: 'us-east-1',
    launcher,
    signer: { sign: () => ({ document: '{}', signature: '' }) },
    logger: pino({ level: 'silent' }),
    ...extra,
  });
}

function countingLauncher(failFirst = 0): InstanceLauncher & { running: Set<string> } {
  const running = new Set<string>();
  let failures = failFirst;
  return {
    running,
    async launch({ instanceId }) {
      if (failures-- > 0) throw new Error('no capacity');
      running.add(instanceId);
      return { stop: async () => void running.delete(instanceId) };
    },
  };
}

test('a launcher failure ends the launch, and the group retries after its back-off', async (t) => {
  const launcher = countingLauncher(1);
  const sim = simulator([{ name: GROUP, minSize: 0, maxSize: 3, desiredCapacity: 1 }], launcher, {
    launchRetryDelayMs: 50,
  });
  t.after(() => sim.stop());
  sim.start();
  const snapshot = await sim.waitFor(
    (s) => s.groups[0]?.instances.some((i) => i.lifecycleState === 'InService') === true,
  );
  assert.deepEqual(
    snapshot.groups[0]?.instances.map((i) => i.lifecycleState),
    ['Terminated', 'InService'],
  );
});

test('scale-in takes the newest instances first, and stop() stops whatever still runs', async () => {
  const launcher = countingLauncher();
  const sim = simulator([{ name: GROUP, minSize: 0, maxSize: 5, desiredCapacity: 4 }], launcher);
  sim.start();
  const full = await sim.waitFor(
    (s) => s.groups[0]?.instances.filter((i) => i.lifecycleState === 'InService').length === 4,
  );
  const ids = full.groups[0]?.instances.map((i) => i.instanceId) ?? [];
  sim.setDesiredCapacity(GROUP, 2);
  await sim.waitFor((s) => s.groups[0]?.instances.filter((i) => i.lifecycleState === 'Terminated').length === 2);
  assert.deepEqual([...launcher.running], ids.slice(0, 2));
  await sim.stop();
  assert.equal(launcher.running.size, 0);
});

test('a refused request changes nothing, and snapshots cannot be changed by their holder', async (t) => {
  const sim = simulator([{ name: GROUP, minSize: 1, maxSize: 3, desiredCapacity: 1 }], countingLauncher());
  t.after(() => sim.stop());
  const before = sim.describe();
  assert.throws(() => sim.setDesiredCapacity(GROUP, 0), {
    name: 'AwsRequestError',
    awsCode: 'ValidationError',
  });
  assert.throws(() => sim.setDesiredCapacity('nope', 1), { awsCode: 'ValidationError' });
  assert.throws(() => sim.recordLifecycleActionHeartbeat({ groupName: GROUP, hookName: 'h', instanceId: 'i-1' }), {
    message: 'No active Lifecycle Action found with instance ID i-1',
  });
  assert.deepEqual(sim.describe(), before);
  assert.ok(Object.isFrozen(before) && Object.isFrozen(before.groups) && Object.isFrozen(before.groups[0]));
});

test('a configuration AWS would not accept is refused at construction, naming the group', () => {
  const launcher = countingLauncher();
  const hook = { name: 'h', transition: LAUNCHING, heartbeatTimeoutSeconds: 1, defaultResult: 'CONTINUE' } as const;
  const bad: GroupConfig[][] = [
    [{ name: GROUP, minSize: 2, maxSize: 3, desiredCapacity: 1 }],
    [{ name: GROUP, minSize: 0, maxSize: 3, desiredCapacity: 1.5 }],
    [{ name: GROUP, minSize: 0, maxSize: 3, desiredCapacity: 1, hooks: [hook, { ...hook, name: 'h2' }] }],
    [{ name: GROUP, minSize: 0, maxSize: 3, desiredCapacity: 1, hooks: [{ ...hook, heartbeatTimeoutSeconds: 0 }] }],
    [
      { name: GROUP, minSize: 0, maxSize: 3, desiredCapacity: 1 },
      { name: GROUP, minSize: 0, maxSize: 3, desiredCapacity: 1 },
    ],
  ];
  for (const groups of bad) {
    assert.throws(
      () => simulator(groups, launcher),
      (err: unknown) => isPhoenixError(err, 'PHX_DEVSTACK_ASG_CONFIG_INVALID') && err.message.includes(GROUP),
    );
  }
});
