import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { awsClientConfig } from '@phoenix/protocol';
import { requireLocalCluster, type ConnectionFile } from '../connection-file.js';
import { localClusterDir, processAlive } from '../home.js';
import { instancePidFile } from '../local/instance-config.js';
import { emit, type OutputFormat } from '../output.js';
import { ProtocolErrors, PhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from '../errors.js';

export interface LocalOptions {
  group?: 'minions' | 'masters';
  hard?: boolean;
  out?: OutputFormat;
}

/** `phoenix local scale N`: a simulated group's desired capacity, through the real Auto Scaling API. */
export async function scale(desired: number, options: LocalOptions): Promise<number> {
  const cluster = await requireLocalCluster();
  const group = cluster.groups[options.group ?? 'minions'];
  await autoscaling(cluster, `could not scale ${group}`, (client) =>
    client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: desired })),
  );
  await emit(options.out ?? 'text', { group, desiredCapacity: desired }, () => `${group}: desired capacity ${desired}`);
  return 0;
}

/** `phoenix local add-master`: the masters group grows by one. */
export async function addMaster(options: LocalOptions): Promise<number> {
  const cluster = await requireLocalCluster();
  const group = cluster.groups.masters;
  const desired = await autoscaling(cluster, `could not grow ${group}`, async (client) => {
    const { AutoScalingGroups = [] } = await client.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
    );
    const next = (AutoScalingGroups[0]?.DesiredCapacity ?? 0) + 1;
    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: next }));
    return next;
  });
  await emit(
    options.out ?? 'text',
    { group, desiredCapacity: desired },
    () => `${group}: desired capacity ${desired}; the new master is listed by phoenix masters once it is live`,
  );
  return 0;
}

/**
 * `phoenix local kill-master ID [--hard]`. Plain: the instance is terminated through the Auto
 * Scaling API (its master gets SIGTERM and drains) and the group launches a replacement. Hard:
 * the master's process gets SIGKILL, as a crash; the instance stays, as a crashed host would.
 */
export async function killMaster(id: string, options: LocalOptions): Promise<number> {
  const cluster = await requireLocalCluster();
  const out = options.out ?? 'text';
  if (options.hard === true) {
    const pid = await masterPid(id);
    process.kill(pid, 'SIGKILL');
    await emit(out, { instanceId: id, pid, signal: 'SIGKILL' }, () => `${id}: killed (pid ${pid}, SIGKILL)`);
    return 0;
  }
  await masterPid(id);
  await autoscaling(cluster, `could not terminate ${id}`, (client) =>
    client.send(
      new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: id, ShouldDecrementDesiredCapacity: false }),
    ),
  );
  await emit(
    out,
    { instanceId: id, terminated: true },
    () => `${id}: terminating (it drains its minions first); the group launches a replacement`,
  );
  return 0;
}

/** `phoenix local freeze-master ID` (SIGSTOP) and `thaw-master ID` (SIGCONT). */
export async function signalMaster(id: string, signal: 'SIGSTOP' | 'SIGCONT', options: LocalOptions): Promise<number> {
  await requireLocalCluster();
  const pid = await masterPid(id);
  process.kill(pid, signal);
  await emit(options.out ?? 'text', { instanceId: id, pid, signal }, () =>
    signal === 'SIGSTOP'
      ? `${id}: frozen (pid ${pid}); thaw it with npx phoenix local thaw-master ${id}`
      : `${id}: thawed (pid ${pid})`,
  );
  return 0;
}

/** The pid of a running local master, from its instance directory; a wrong id is a usage error. */
async function masterPid(id: string): Promise<number> {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) {
    throw new PhoenixError(ProtocolErrors.PHX_CLI_USAGE, `"${id}" is not an instance id; phoenix masters lists them`);
  }
  const dir = join(localClusterDir(), 'instances', id);
  const text = await readFile(instancePidFile(dir, 'master'), 'utf8').catch(() => undefined);
  const pid = Number(text);
  if (text === undefined || !Number.isInteger(pid) || pid <= 0) {
    throw new PhoenixError(
      ProtocolErrors.PHX_CLI_USAGE,
      `${id} is not a master of the local cluster; phoenix masters lists them`,
    );
  }
  if (!processAlive(pid)) throw new PhoenixError(CliErrors.PHX_CLI_LOCAL_CLUSTER_FAILED, `master ${id} is not running`);
  return pid;
}

async function autoscaling<T>(
  cluster: ConnectionFile,
  what: string,
  call: (client: AutoScalingClient) => Promise<T>,
): Promise<T> {
  const client = new AutoScalingClient(awsClientConfig(cluster.aws, 'autoscaling'));
  try {
    return await call(client);
  } catch (err) {
    throw new PhoenixError(CliErrors.PHX_CLI_AWS_REQUEST_FAILED, `${what}: ${(err as Error).message}`, { cause: err });
  } finally {
    client.destroy();
  }
}
