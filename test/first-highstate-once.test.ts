import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from 'zeromq';
import pino from 'pino';
import { AutoScalingClient, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startMinion, MinionConfigSchema, type Minion } from '@phoenix/minion';
import { awsClientConfig } from '@phoenix/protocol';
import { Store } from '@phoenix/store';
import type { InstanceLauncher, LaunchRequest, RunningInstance } from '@phoenix/devstack';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { startMasterProcess, type RunningMaster } from './lib/cluster.js';

// The order that raced: the instance's key is already pending when its launch message is handled
// (normal when a master dies mid-message and SQS hands the message to another). The accepting
// master must claim, run and judge the first highstate exactly once.
const INSTANCES = 20;
/** Launched in waves, so the machine is not the bottleneck: the race is per instance, not per wave. */
const WAVE = 5;

const masters: RunningMaster[] = [];
const minions = new Map<string, Minion>();
const context = new Context();
let store: Store | undefined;
let stopping = false;
/** Each in-process minion's log lines. */
const starts = new Map<string, string[]>();
/** How many times a minion started a state.highstate job. */
const minionStarts = (id: string): number =>
  (starts.get(id) ?? []).filter((l) => l.includes('"job started"') && l.includes('"state.highstate"')).length;
// Registered before the devstack's: the minions stop, and no launch waits on the table, before the cloud goes.
after(async () => {
  stopping = true;
  await Promise.all([...minions.values()].map((m) => m.stop()));
});

/** Starts each simulated instance as a minion in this process and returns once its key is pending. */
const launcher: InstanceLauncher = {
  async launch(request: LaunchRequest): Promise<RunningInstance> {
    if (stopping) throw new Error('the test is over');
    const id = request.instanceId;
    // The directory the minion's states manage (its `/`).
    await mkdir(join(dir(), id, 'root'), { recursive: true });
    const config = MinionConfigSchema.parse({
      id,
      masters: masters.map((m) => ({ id: m.id, host: '127.0.0.1', port: m.ports.minion, enrolPort: m.ports.enrol })),
      clusterPublicKey: devstack().clusterKeys.publicKey,
      pkiDir: join(dir(), id, 'pki'),
      cacheDir: join(dir(), id, 'cache'),
      imds: { enabled: false },
      identityDocument: request.identity,
      autoscalingGroup: request.groupName,
      enrolRetryMs: 300,
      state: { root: join(dir(), id, 'root') },
    });
    const lines: string[] = [];
    starts.set(id, lines);
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const minion = await startMinion(config, { context, log });
    minions.set(id, minion);
    // Only now does the simulator send the launch message: the key is already waiting for it.
    await waitFor(async () => stopping || (await store?.minions.get(id))?.keyState === 'pending', {
      what: `${id}'s key to be pending before its launch message`,
      timeoutMs: 30_000,
    });
    return { stop: () => minion.stop() };
  },
};

const devstack = useDevstack({ hookTimeoutSeconds: 300 }, { launcher: () => launcher });
const dir = useTempDir();
const processes = useProcesses();

interface LoggedEvent {
  event: string;
  masterId: string;
  minionId?: string;
  action?: string;
  result?: string;
  jid?: string;
}

function events(): LoggedEvent[] {
  const all: LoggedEvent[] = [];
  for (const master of masters) {
    for (const line of processes.output(master.process).split('\n')) {
      if (!line.includes('"event"')) continue;
      try {
        all.push(JSON.parse(line) as LoggedEvent);
      } catch {
        // a line cut short while the master writes it
      }
    }
  }
  return all;
}

test(`key pending before the launch message, ${INSTANCES} times: one first highstate each, never ABANDON`, async () => {
  const cloud = devstack();
  const dynamodb = new DynamoDBClient(awsClientConfig(cloud.aws, 'dynamodb'));
  const autoscaling = new AutoScalingClient(awsClientConfig(cloud.aws, 'autoscaling'));
  store = new Store(dynamodb, cloud.tablePrefix);
  try {
    const tree = join(dir(), 'srv', 'salt');
    await mkdir(tree, { recursive: true });
    await writeFile(join(tree, 'top.sls'), "base:\n  '*':\n    - first\n");
    // Long enough that a second run overlaps the first (the minion runs one state run at a time).
    await writeFile(join(tree, 'first.sls'), 'configured:\n  cmd.run:\n    - name: sleep 1\n');
    const groups = cloud.options.groups;
    for (const id of ['m1', 'm2']) {
      masters.push(
        await startMasterProcess(cloud, dir(), processes, id, undefined, {
          fileRoots: { base: [tree] },
          reactor: {
            queueUrl: cloud.lifecycle.queueUrl,
            groups: { [groups.masters.name]: { role: 'masters' }, [groups.minions.name]: { role: 'minions' } },
            waitTimeSeconds: 1,
            highstate: { leaseMs: 5_000, heartbeatMs: 1_000 },
            attestation: {
              enabled: true,
              certificate: cloud.identityCertificate,
              accountId: cloud.options.accountId,
              region: cloud.options.region,
            },
          },
        }),
      );
    }
    const abandoned = (): LoggedEvent[] =>
      events().filter((e) => e.event === 'lifecycle/completed' && e.action === 'ABANDON');
    for (let size = WAVE; size <= INSTANCES; size += WAVE) {
      await autoscaling.send(
        new SetDesiredCapacityCommand({ AutoScalingGroupName: groups.minions.name, DesiredCapacity: size }),
      );
      await waitFor(
        () => {
          if (abandoned().length > 0) return true;
          const group = cloud.simulator.describe().groups.find((g) => g.name === groups.minions.name);
          return group?.instances.length === size && group.instances.every((i) => i.lifecycleState === 'InService');
        },
        { what: `${size} instances in service (or one abandoned)`, timeoutMs: 120_000, intervalMs: 250 },
      );
      if (abandoned().length > 0) break;
    }
    const gone = abandoned().map((e) => e.minionId);
    const story: string[] = [];
    for (const e of events().filter((e) => gone.includes(e.minionId))) {
      story.push(`${e.minionId} ${e.masterId} ${e.event} ${e.result ?? e.action ?? ''}`);
      if (e.event === 'highstate/finished' && e.jid !== undefined) {
        const returns = await store.returns.listForJob(e.jid);
        story.push(`  returned: ${JSON.stringify(returns.items.map((r) => r.ret))}`);
      }
    }
    assert.deepEqual(gone, [], `no instance was abandoned; what happened to them:\n${story.join('\n')}`);
    const logged = events();
    for (const id of minions.keys()) {
      const mine = logged.filter((e) => e.minionId === id);
      const started = mine.filter((e) => e.event === 'highstate/started');
      assert.equal(
        started.length,
        1,
        `${id}: one first highstate started (${started.map((e) => e.masterId).join(', ')})`,
      );
      assert.equal(mine.filter((e) => e.event === 'highstate/finished').length, 1, `${id}: judged once`);
      assert.equal(mine.find((e) => e.event === 'highstate/finished')?.result, 'success', `${id}: it succeeded`);
      const row = await store.minions.get(id);
      assert.equal(row?.highstate?.result, 'success');
      assert.equal(row.highstate.jid, started[0]?.jid, `${id}: the result is the claimed job's`);
    }
    const highstateJobs = (await store.jobs.listRecent({ limit: 1000 })).items.filter(
      (j) => j.fun === 'state.highstate',
    );
    assert.equal(highstateJobs.length, minions.size, 'one state.highstate job per instance in the job cache');
  } finally {
    autoscaling.destroy();
    dynamodb.destroy();
  }
});

test('a claimant frozen past its lease: another master adopts the job and finishes it; the thawed one stops at once and decides nothing', async () => {
  const cloud = devstack();
  const autoscaling = new AutoScalingClient(awsClientConfig(cloud.aws, 'autoscaling'));
  try {
    // Slow enough that the claimant's lease (5 s) lapses while the minion still runs it.
    await writeFile(join(dir(), 'srv', 'salt', 'first.sls'), 'configured:\n  cmd.run:\n    - name: sleep 8\n');
    const before = new Set(minions.keys());
    const marks = new Map(masters.map((m) => [m.id, processes.output(m.process).length]));
    await autoscaling.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: cloud.options.groups.minions.name,
        DesiredCapacity: INSTANCES + 1,
      }),
    );
    const started = await waitFor(
      () => events().find((e) => e.event === 'highstate/started' && !before.has(e.minionId ?? '')),
      { what: 'the new instance’s first highstate to start', timeoutMs: 30_000 },
    );
    const id = started.minionId as string;
    const claimant = masters.find((m) => m.id === started.masterId) as RunningMaster;
    claimant.process.kill('SIGSTOP');
    try {
      await waitFor(() => events().find((e) => e.event === 'highstate/adopted' && e.minionId === id), {
        what: 'another master to adopt the first highstate',
        timeoutMs: 30_000,
      });
    } finally {
      claimant.process.kill('SIGCONT');
    }
    const finished = await waitFor(() => events().find((e) => e.event === 'highstate/finished' && e.minionId === id), {
      what: 'the adopter to finish the first highstate',
      timeoutMs: 30_000,
    });
    assert.equal(finished.result, 'success');
    assert.notEqual(finished.masterId, claimant.id);
    await waitFor(() => events().find((e) => e.event === 'lifecycle/completed' && e.minionId === id), {
      what: 'the adopter to complete the lifecycle action',
      timeoutMs: 15_000,
    });
    // The thawed claimant learns at its next renewal that it lost the claim, and stops there.
    const said = (): string[] =>
      processes
        .output(claimant.process)
        .slice(marks.get(claimant.id))
        .split('\n')
        .filter((l) => l.includes(`"minionId":"${id}"`));
    await waitFor(() => said().some((l) => l.includes('the first-highstate claim was lost')), {
      what: 'the thawed claimant to see that it lost the claim',
      timeoutMs: 15_000,
    });
    const mine = events().filter((e) => e.minionId === id);
    assert.equal(mine.filter((e) => e.event === 'highstate/started').length, 1, 'one job');
    assert.equal(mine.filter((e) => e.event === 'highstate/finished').length, 1, 'judged once');
    assert.deepEqual(
      mine.filter((e) => e.event === 'lifecycle/completed').map((e) => e.action),
      ['CONTINUE'],
    );
    assert.equal(minionStarts(id), 1, 'the minion ran it once');
    assert.equal(said().filter((l) => l.includes('could not renew')).length, 0, 'no renewal after the loss');
    assert.equal(said().filter((l) => l.includes('the first-highstate claim was lost')).length, 1);
  } finally {
    autoscaling.destroy();
  }
});
