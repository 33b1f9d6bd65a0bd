import { after, before } from 'node:test';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { AutoScalingClient, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  PlaceholderLauncher,
  startDevstack,
  stopProcess,
  type Devstack,
  type DevstackOptions,
  type InstanceLauncher,
  type LaunchRequest,
} from '@phoenix/devstack';
import { useProcesses, useTempDir } from '@phoenix/devstack/testing';
import { awsClientConfig } from '@phoenix/protocol';
import { Store } from '@phoenix/store';
import { startMasterProcess, startMinionProcess, type RunningMaster } from './cluster.js';

/** One JSON line a master logged: a cluster event (`event`) or an ignored lifecycle message (`reason`). */
export interface LoggedLine {
  msg?: string;
  event?: string;
  minionId?: string;
  instanceId?: string;
  reason?: string;
  result?: string;
  action?: string;
  jid?: string;
}

export interface LifecycleCluster {
  devstack: Devstack;
  master: RunningMaster;
  store: Store;
  sqs: SQSClient;
  autoscaling: AutoScalingClient;
  groups: { masters: string; minions: string };
  /** The master's file roots (`base`): tests may add SLS files (orchestrations) here. */
  fileRoot: string;
  /** What new instances boot: a real phoenix-minion (default) or nothing at all. */
  boot: 'minion' | 'nothing';
  /** The identity documents the simulator signed, by instance id. */
  identities: Map<string, { document: string; signature: string }>;
  /** Every JSON line the master logged so far. */
  logged(): LoggedLine[];
  /** Puts a message on the lifecycle queue, as AWS or anyone who can write to the queue would. */
  send(body: string): Promise<void>;
  /** Reads the dead-letter queue once (messages stay there for the next read after their visibility timeout). */
  deadLetters(): Promise<string[]>;
  /** The instance's LifecycleState, as DescribeAutoScalingInstances answers. */
  stateOf(instanceId: string): Promise<string | undefined>;
  scale(desired: number): void;
  /** Instances of the minions group in these states, oldest first. */
  instances(...states: string[]): string[];
  /** Starts another master with the same file roots and reactor (stopped with the cluster). */
  addMaster(id: string): Promise<RunningMaster>;
}

/**
 * A devstack in this process whose simulated instances run real phoenix-minion processes, and one
 * real phoenix-master whose reactor consumes the lifecycle queue: what the lifecycle tests drive.
 * Started in `before`, torn down in `after`.
 */
export function useLifecycleCluster(
  options: {
    devstack?: DevstackOptions;
    reactor?: Record<string, unknown>;
    minionsGroup?: Record<string, unknown>;
  } = {},
): () => LifecycleCluster {
  const dir = useTempDir('phoenix-lifecycle-');
  const processes = useProcesses();
  let cluster: LifecycleCluster | undefined;
  let dynamodb: DynamoDBClient | undefined;
  let release = (): void => undefined;
  const started: RunningMaster[] = [];
  before(async () => {
    // The launcher needs the master, which needs the devstack that the launcher is part of: an
    // instance launched before the master is up (a warm pool fills at once) boots once it is.
    let masterStarted: (master: RunningMaster | undefined) => void = () => undefined;
    const masterReady = new Promise<RunningMaster | undefined>((resolve) => (masterStarted = resolve));
    release = () => masterStarted(undefined);
    const identities = new Map<string, { document: string; signature: string }>();
    const state: { boot: 'minion' | 'nothing' } = { boot: 'minion' };
    const placeholders = new PlaceholderLauncher(2_000);
    const launcher: InstanceLauncher = {
      async launch(request: LaunchRequest) {
        identities.set(request.instanceId, request.identity);
        const master = await masterReady;
        if (state.boot === 'nothing' || master === undefined) return placeholders.launch(request);
        const child: ChildProcess = await startMinionProcess(
          devstack,
          join(dir(), 'instances'),
          processes,
          request.instanceId,
          // The masters up now (one may have been stopped by the test), as an instance's config lists the cluster's.
          started.filter((m) => m.process.exitCode === null && m.process.signalCode === null),
          {
            instanceId: request.instanceId,
            autoscalingGroup: request.groupName,
            identityDocument: request.identity,
            state: { root: join(dir(), 'roots', request.instanceId) },
          },
        );
        return { pid: child.pid, stop: () => stopProcess(child, 5_000) };
      },
    };
    const devstack = await startDevstack(
      { tablePrefix: `l${process.pid}${Date.now().toString(36)}`, ...options.devstack },
      { launcher: () => launcher },
    );
    const groups = { masters: devstack.options.groups.masters.name, minions: devstack.options.groups.minions.name };
    const srv = join(dir(), 'srv');
    await mkdir(join(srv, 'salt'), { recursive: true });
    await mkdir(join(srv, 'pillar'), { recursive: true });
    await writeFile(join(srv, 'salt', 'top.sls'), "base:\n  '*':\n    - phoenix\n");
    await writeFile(join(srv, 'salt', 'phoenix.sls'), 'phoenix-managed:\n  test.succeed_without_changes: []\n');
    await writeFile(join(srv, 'pillar', 'top.sls'), 'base: {}\n');
    const masterConfig = {
      fileRoots: { base: [join(srv, 'salt')] },
      pillarRoots: { base: [join(srv, 'pillar')] },
      reactor: {
        queueUrl: devstack.lifecycle.queueUrl,
        groups: {
          [groups.masters]: { role: 'masters' },
          [groups.minions]: { role: 'minions', ...options.minionsGroup },
        },
        waitTimeSeconds: 1,
        highstate: { leaseMs: 5_000, heartbeatMs: 1_000 },
        attestation: {
          enabled: true,
          certificate: devstack.identityCertificate,
          accountId: devstack.options.accountId,
          region: devstack.options.region,
        },
        ...options.reactor,
      },
    };
    const addMaster = async (id: string): Promise<RunningMaster> => {
      const master = await startMasterProcess(devstack, join(dir(), 'masters'), processes, id, undefined, masterConfig);
      started.push(master);
      return master;
    };
    const running = await addMaster('master-1');
    masterStarted(running);
    dynamodb = new DynamoDBClient(awsClientConfig(devstack.aws, 'dynamodb'));
    const sqs = new SQSClient(awsClientConfig(devstack.aws, 'sqs'));
    const autoscaling = new AutoScalingClient(awsClientConfig(devstack.aws, 'autoscaling'));
    cluster = {
      devstack,
      master: running,
      store: new Store(dynamodb, devstack.tablePrefix),
      sqs,
      autoscaling,
      groups,
      fileRoot: join(srv, 'salt'),
      get boot() {
        return state.boot;
      },
      set boot(mode) {
        state.boot = mode;
      },
      identities,
      logged: () =>
        processes
          .output(running.process)
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .flatMap((line) => {
            try {
              return [JSON.parse(line) as LoggedLine];
            } catch {
              return []; // a line cut short while the master writes it
            }
          }),
      send: async (body) => {
        await sqs.send(new SendMessageCommand({ QueueUrl: devstack.lifecycle.queueUrl, MessageBody: body }));
      },
      deadLetters: async () => {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: devstack.lifecycle.deadLetterQueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            VisibilityTimeout: 0,
          }),
        );
        return Messages.map((m) => m.Body ?? '');
      },
      stateOf: async (instanceId) => {
        const { AutoScalingInstances = [] } = await autoscaling.send(
          new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
        );
        return AutoScalingInstances[0]?.LifecycleState;
      },
      addMaster,
      scale: (desired) => devstack.simulator.setDesiredCapacity(groups.minions, desired),
      instances: (...states) =>
        (devstack.simulator.describe().groups.find((g) => g.name === groups.minions)?.instances ?? [])
          .filter((i) => states.includes(i.lifecycleState))
          .map((i) => i.instanceId),
    };
  });
  after(async () => {
    release();
    cluster?.sqs.destroy();
    cluster?.autoscaling.destroy();
    // The master first (it calls the devstack), then the cloud and the instances it runs.
    if (cluster !== undefined) await Promise.all(started.map((m) => stopProcess(m.process, 10_000)));
    await cluster?.devstack.stop();
    dynamodb?.destroy();
  });
  return () => {
    if (cluster === undefined) throw new Error('the lifecycle cluster is used before it started');
    return cluster;
  };
}

/** Every event of one tag the master logged about one minion. */
export function eventsOf(lines: readonly LoggedLine[], tag: string, minionId: string): LoggedLine[] {
  return lines.filter((line) => line.event === tag && line.minionId === minionId);
}

/** The master's log lines about lifecycle messages it ignored (and deleted), for one instance. */
export function ignoredFor(lines: readonly LoggedLine[], instanceId: string): LoggedLine[] {
  return lines.filter((line) => line.msg === 'lifecycle message ignored and deleted' && line.instanceId === instanceId);
}
