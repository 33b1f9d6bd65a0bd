import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsClientConfig, type AwsSettings } from '@phoenix/protocol';
import { Store } from '@phoenix/store';
import { useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';

// Malformed, crafted and phantom messages, and impostors, are in lifecycle-trust.test.ts.
const home = useTempDir('phoenix-home-');
const env = (): NodeJS.ProcessEnv => ({ PHOENIX_HOME: home() });

interface Cluster {
  pid: number;
  aws: AwsSettings;
  tablePrefix: string;
  groups: { masters: string; minions: string };
  lifecycle: { queueUrl: string; deadLetterQueueUrl: string };
}
interface LoggedEvent {
  event?: string;
  time: number;
  minionId?: string;
  reason?: string;
  result?: string;
  action?: string;
  masterId?: string;
}

let cluster: Cluster;
let autoscaling: AutoScalingClient;
let store: Store;
let dynamodb: DynamoDBClient;

// node:test starts top-level before() hooks together, so the cluster starts in the first test,
// once the temporary directories exist.
test('a local cluster with three masters starts', async () => {
  const started = await phoenix(['up', '--detach', '--masters', '3', '--out', 'json'], env(), 90_000);
  assert.equal(started.code, 0, started.stderr);
  cluster = json<Cluster>(started);
  autoscaling = new AutoScalingClient(awsClientConfig(cluster.aws, 'autoscaling'));
  dynamodb = new DynamoDBClient(awsClientConfig(cluster.aws, 'dynamodb'));
  store = new Store(dynamodb, cluster.tablePrefix);
});
after(async () => {
  autoscaling?.destroy();
  dynamodb?.destroy();
  await phoenix(['down'], env());
});

async function minionInstances(): Promise<Array<{ InstanceId?: string; LifecycleState?: string }>> {
  const { AutoScalingGroups = [] } = await autoscaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [cluster.groups.minions] }),
  );
  return AutoScalingGroups[0]?.Instances ?? [];
}

/** Every event every master logged (each master logs one line per event). */
async function events(): Promise<LoggedEvent[]> {
  const dir = join(home(), 'local', 'instances');
  const all: LoggedEvent[] = [];
  for (const instance of await readdir(dir)) {
    const log = await readFile(join(dir, instance, 'master.log'), 'utf8').catch(() => '');
    for (const line of log.split('\n')) {
      if (!line.includes('"event"')) continue;
      try {
        all.push(JSON.parse(line) as LoggedEvent);
      } catch {
        // a line cut short while the master writes it
      }
    }
  }
  return all.sort((a, b) => a.time - b.time);
}

test('each master completes its own launch once it serves: in service only then, and the first needs no other master', async () => {
  const { AutoScalingGroups = [] } = await autoscaling.send(
    new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [cluster.groups.masters] }),
  );
  const instances = AutoScalingGroups[0]?.Instances ?? [];
  assert.equal(instances.length, 3);
  const rows = await store.masters.list();
  const logged = await events();
  for (const instance of instances) {
    const id = instance.InstanceId as string;
    assert.equal(instance.LifecycleState, 'InService', `${id} is in service`);
    assert.equal(rows.find((m) => m.masterId === id)?.status, 'active', `${id} serves`);
    // Its own master once it serves, or a reactor that found its row already active (the launch
    // message can reach a reactor after the master is up): one completion either way.
    const own = logged.filter((e) => e.event === 'master/launch-completed' && e.masterId === id);
    const byReactor = logged.filter((e) => e.event === 'lifecycle/completed' && e.minionId === id);
    assert.equal(own.length + byReactor.length, 1, `${id}'s launch was completed once: ${JSON.stringify(byReactor)}`);
  }
});

test('scale to 5: every instance is accepted, highstated exactly once, and goes into service', async () => {
  assert.equal((await phoenix(['local', 'scale', '5'], env())).code, 0);
  await waitFor(
    async () => {
      const instances = await minionInstances();
      return instances.length === 5 && instances.every((i) => i.LifecycleState === 'InService');
    },
    { what: 'five instances InService', timeoutMs: 120_000, intervalMs: 250 },
  );
  const ids = (await minionInstances()).map((i) => i.InstanceId as string);
  const logged = await events();
  for (const id of ids) {
    const mine = logged.filter((e) => e.minionId === id);
    const at = (tag: string): number | undefined => mine.find((e) => e.event === tag)?.time;
    assert.equal(
      mine.filter((e) => e.event === 'highstate/started').length,
      1,
      `${id}: one highstate started in the cluster`,
    );
    assert.equal(
      mine.find((e) => e.event === 'highstate/finished')?.result,
      'success',
      `${id}: the highstate succeeded`,
    );
    assert.equal(mine.find((e) => e.event === 'lifecycle/completed')?.action, 'CONTINUE');
    const launched = at('lifecycle/launching') as number;
    const accepted = at('key/accepted') as number;
    const started = at('highstate/started') as number;
    assert.ok(launched !== undefined && accepted !== undefined && started !== undefined, `${id}: every step logged`);
    console.log(
      `${id}: launch event -> key accepted ${accepted - launched} ms, -> first highstate started ${started - launched} ms`,
    );
  }
  const keys = json<{ keys: Array<{ minionId: string; state: string }> }>(
    await phoenix(['keys', 'list', '--out', 'json'], env()),
  ).keys;
  assert.deepEqual(
    keys
      .filter((k) => k.state === 'accepted')
      .map((k) => k.minionId)
      .sort(),
    [...ids].sort(),
  );
});

test('scale to 2: the three terminated instances lose their keys and their rows say terminated', async () => {
  const before = (await minionInstances()).map((i) => i.InstanceId as string);
  assert.equal((await phoenix(['local', 'scale', '2'], env())).code, 0);
  await waitFor(async () => (await minionInstances()).length === 2, {
    what: 'two instances left',
    timeoutMs: 60_000,
    intervalMs: 250,
  });
  const left = new Set((await minionInstances()).map((i) => i.InstanceId as string));
  const gone = before.filter((id) => !left.has(id));
  assert.equal(gone.length, 3);
  await waitFor(
    async () => {
      for (const id of gone) {
        const row = await store.minions.get(id);
        if (row?.lifecycle?.state !== 'terminated' || row.keyState !== undefined) return false;
      }
      return true;
    },
    { what: 'the terminated rows to say terminated, with no key', timeoutMs: 30_000 },
  );
  const accepted = json<{ keys: Array<{ minionId: string }> }>(
    await phoenix(['keys', 'list', '--state', 'accepted', '--out', 'json'], env()),
  ).keys.map((k) => k.minionId);
  assert.deepEqual(accepted.sort(), [...left].sort());
});

const stateTree = (): string => join(home(), 'local', 'srv', 'salt');

test('a failing first highstate abandons the instance, and the simulator terminates it', async () => {
  const good = await readFile(join(stateTree(), 'phoenix.sls'), 'utf8');
  await writeFile(join(stateTree(), 'phoenix.sls'), 'broken-on-purpose:\n  cmd.run:\n    - name: exit 3\n');
  const before = new Set((await minionInstances()).map((i) => i.InstanceId as string));
  try {
    assert.equal((await phoenix(['local', 'scale', '3'], env())).code, 0);
    const abandoned = await waitFor(
      async () =>
        (await events()).find(
          (e) => e.event === 'lifecycle/completed' && e.action === 'ABANDON' && !before.has(e.minionId ?? ''),
        ),
      { what: 'a new instance to be abandoned', timeoutMs: 60_000 },
    );
    const id = abandoned.minionId as string;
    assert.equal(
      (await events()).find((e) => e.event === 'highstate/finished' && e.minionId === id)?.result,
      'failure',
    );
    await waitFor(async () => !(await minionInstances()).some((i) => i.InstanceId === id), {
      what: `the simulator to terminate ${id}`,
      timeoutMs: 30_000,
    });
  } finally {
    await writeFile(join(stateTree(), 'phoenix.sls'), good);
  }
  await waitFor(
    async () => {
      const instances = await minionInstances();
      return instances.length === 3 && instances.every((i) => i.LifecycleState === 'InService');
    },
    { what: 'the replacement to go into service once the states are fixed', timeoutMs: 90_000, intervalMs: 250 },
  );
});

test('killing the master that holds a first-highstate claim: another master finishes it, still once', async () => {
  await writeFile(join(stateTree(), 'phoenix.sls'), 'slow-first-highstate:\n  cmd.run:\n    - name: sleep 6\n');
  // Every instance the cluster has seen so far, running or long gone: the next one is new.
  const before = new Set((await events()).map((e) => e.minionId ?? ''));
  assert.equal((await phoenix(['local', 'scale', '4'], env())).code, 0);
  const started = await waitFor(
    async () => (await events()).find((e) => e.event === 'highstate/started' && !before.has(e.minionId ?? '')),
    { what: 'the new instance’s first highstate to start', timeoutMs: 60_000 },
  );
  const id = started.minionId as string;
  const claimant = (started as LoggedEvent & { masterId: string }).masterId;
  const pid = await pidOfMaster(claimant);
  process.kill(pid, 'SIGKILL');
  const finished = await waitFor(
    async () => (await events()).find((e) => e.event === 'highstate/finished' && e.minionId === id),
    { what: 'another master to finish the first highstate', timeoutMs: 60_000 },
  );
  assert.equal(finished.result, 'success');
  assert.notEqual((finished as LoggedEvent & { masterId: string }).masterId, claimant);
  const mine = (await events()).filter((e) => e.minionId === id);
  assert.equal(mine.filter((e) => e.event === 'highstate/started').length, 1, 'the highstate was started once');
  assert.equal(
    mine.filter((e) => e.event === 'highstate/adopted').length,
    1,
    'the next master adopted the running job',
  );
  await waitFor(
    async () => (await minionInstances()).find((i) => i.InstanceId === id)?.LifecycleState === 'InService',
    {
      what: `${id} to go into service`,
      timeoutMs: 30_000,
    },
  );
});

/** The pid of the phoenix-master process running as simulated instance `instanceId`. */
async function pidOfMaster(instanceId: string): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('phoenix-master') && cmdline.includes(instanceId)) return Number(entry);
  }
  throw new Error(`no phoenix-master process for ${instanceId}`);
}
