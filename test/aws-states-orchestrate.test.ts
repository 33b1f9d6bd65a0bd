import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Minion } from '@phoenix/minion';
import { useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN } from './lib/cluster.js';
import { startMinions } from './lib/in-process-minions.js';
import { useLifecycleCluster } from './lib/lifecycle-cluster.js';

/*
 * Orchestration creates the infrastructure the fleet then runs on: a `salt.state` step of
 * `phoenix orchestrate` runs boto_asg.present on the master-side minion, which creates a minion
 * auto-scaling group with a launch hook on the lifecycle queue; the simulator's instances of that
 * new group boot real minions that the lifecycle reactor enrols, accepts and highstates.
 */

const GROUP = 'orders-api-devstack';
const cluster = useLifecycleCluster({
  reactor: {
    groups: {
      'phoenix-master-devstack': { role: 'masters' },
      'demo-web-devstack': { role: 'minions' },
      [GROUP]: { role: 'minions' },
    },
  },
});
const dir = useTempDir('phoenix-aws-orchestrate-');
const minions: Minion[] = [];
after(async () => {
  await Promise.all(minions.map((minion) => minion.stop()));
});

test('an orchestration creates a minion group through boto_asg.present, and its instances enrol through the lifecycle reactor', async () => {
  const { devstack, master } = cluster();
  const env: NodeJS.ProcessEnv = { PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN, PHOENIX_HOME: dir() };
  const endpoints = {
    sqs: devstack.aws.endpoints.sqs,
    sns: devstack.aws.endpoints.sns,
    dynamodb: devstack.aws.endpoints.dynamodb,
    autoscaling: devstack.aws.endpoints.autoscaling,
  };
  // The master-side minion: it holds the profile that reaches the (local) cloud.
  await startMinions(devstack, dir(), [master], ['infra-1'], env, minions, {
    awsProfiles: { local: { keyid: 'AKIDINFRA', key: 'infra-secret', endpoints } },
  });
  await mkdir(join(cluster().fileRoot, 'orch'), { recursive: true });
  await mkdir(join(cluster().fileRoot, 'aws'), { recursive: true });
  await writeFile(
    join(cluster().fileRoot, 'aws', 'orders.sls'),
    `orders-group:
  boto_asg.present:
    - name: ${GROUP}
    - profile: local
    - launch_config_name: orders-api-r1
    - launch_config:
        image_id: ami-0123456789abcdef0
        instance_type: t3.small
    - min_size: 0
    - max_size: 2
    - desired_capacity: 1
    - tags:
      - key: service
        value: orders
        propagate_at_launch: True
    - lifecycle_hooks:
      - name: orders-api-launching
        transition: launching
        heartbeat_timeout: 300
        default_result: ABANDON
        notification_target_arn: ${devstack.lifecycle.queueArn}
`,
  );
  await writeFile(
    join(cluster().fileRoot, 'orch', 'infra.sls'),
    `orders_group:\n  salt.state:\n    - tgt: infra-1\n    - sls: aws.orders\n`,
  );

  const out = await phoenix(['orchestrate', 'orch.infra', '--out', 'json'], env, 150_000);
  assert.equal(out.code, 0, out.stdout + out.stderr);
  const doc = json<{ status: string; retcode: number }>(out);
  assert.equal(doc.retcode, 0, out.stdout);
  const group = devstack.simulator.describe().groups.find((g) => g.name === GROUP);
  assert.equal(group?.launchConfigurationName, 'orders-api-r1', 'the orchestration created the group');
  assert.ok(!out.stdout.includes('infra-secret'), 'the profile key is in no return');

  // The group's instance is held by its hook until the reactor has accepted and highstated it.
  const instanceId = await waitFor(
    () =>
      devstack.simulator
        .describe()
        .groups.find((g) => g.name === GROUP)
        ?.instances.find((i) => i.lifecycleState === 'InService')?.instanceId,
    { what: 'the new group’s instance in service after its first highstate', timeoutMs: 90_000, intervalMs: 250 },
  );
  const keys = json<{ keys: Array<{ minionId: string; state: string }> }>(
    await phoenix(['keys', 'list', '--out', 'json'], env),
  ).keys;
  assert.equal(keys.find((k) => k.minionId === instanceId)?.state, 'accepted');
  const events = cluster()
    .logged()
    .filter((line) => line.instanceId === instanceId || line.minionId === instanceId)
    .map((line) => line.event ?? line.msg);
  assert.ok(
    events.some((e) => typeof e === 'string' && /highstate/.test(e)),
    `the reactor highstated it: ${events.join(', ')}`,
  );
});
