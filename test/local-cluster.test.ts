import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { awsClientConfig, type AwsSettings } from '@phoenix/protocol';
import { descendantPids, isRunning, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';

const home = useTempDir('phoenix-home-');
const env = (): NodeJS.ProcessEnv => ({ PHOENIX_HOME: home() });

// Whatever happens in a test, no local cluster outlives this file.
after(async () => {
  await phoenix(['down'], env());
});

interface Running {
  status: string;
  pid: number;
  aws: AwsSettings;
  groups: { masters: string; minions: string };
}

test('phoenix up --detach, local scale 3 and down work from a script and leave nothing running', async () => {
  const started = await phoenix(['up', '--detach', '--out', 'json'], env());
  assert.equal(started.code, 0, started.stderr);
  const cluster = json<Running>(started);
  assert.equal(cluster.status, 'running');
  assert.ok(await isRunning(cluster.pid));
  assert.ok(existsSync(join(home(), 'local', 'cluster.json')), 'the connection file is written');

  const again = await phoenix(['up', '--detach'], env());
  assert.equal(again.code, 1, 'a second cluster is refused');
  assert.match(again.stderr, /already running \(pid \d+\).*\[PHX_CLI_LOCAL_CLUSTER_RUNNING\]/);

  const scaled = await phoenix(['local', 'scale', '3', '--out', 'json'], env());
  assert.equal(scaled.code, 0, scaled.stderr);
  assert.deepEqual(json(scaled), { group: cluster.groups.minions, desiredCapacity: 3 });

  // Three simulated instances: three real processes below the cluster's process.
  const autoscaling = new AutoScalingClient(awsClientConfig(cluster.aws, 'autoscaling'));
  try {
    await waitFor(
      async () => {
        const { AutoScalingGroups = [] } = await autoscaling.send(
          new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [cluster.groups.minions] }),
        );
        return AutoScalingGroups[0]?.Instances?.length === 3;
      },
      { what: 'three instances in the minion group', timeoutMs: 15_000 },
    );
  } finally {
    autoscaling.destroy();
  }
  // The group lists an instance as soon as it is launched; its process follows a moment later.
  const instances = await waitFor(
    async () => {
      const pids = await descendantPids(cluster.pid);
      return pids.length >= 3 ? pids : undefined;
    },
    { what: 'three instance processes below the cluster', timeoutMs: 15_000 },
  );

  const stopped = await phoenix(['down', '--out', 'json'], env());
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.deepEqual(json(stopped), { status: 'stopped', wasRunning: true, pid: cluster.pid, forced: false });
  for (const pid of [cluster.pid, ...instances]) assert.equal(await isRunning(pid), false, `pid ${pid} is gone`);
  assert.equal(existsSync(join(home(), 'local', 'cluster.json')), false, 'the connection file is removed');

  const idle = await phoenix(['down', '--out', 'json'], env());
  assert.deepEqual(json(idle), { status: 'stopped', wasRunning: false });
});

test('a command that needs the local cluster says none is running', async () => {
  const scale = await phoenix(['local', 'scale', '2'], env());
  assert.equal(scale.code, 1);
  assert.match(scale.stderr, /no local cluster is running.*\[PHX_CLI_NO_LOCAL_CLUSTER\]/);
  const token = await phoenix(['token'], env());
  assert.equal(token.code, 1);
  assert.match(token.stderr, /no local cluster is running/);
});
