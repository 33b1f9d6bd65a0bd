import { AutoScalingClient, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { awsClientConfig } from '@phoenix/protocol';
import { USAGES } from '../usage.js';
import { parseCommand, parseCount } from '../args.js';
import { CliError, CliErrorCodes } from '../errors.js';
import { emit, outputFormat } from '../output.js';
import { requireLocalCluster } from '../home.js';

const LOCAL_USAGE = USAGES.local;

/** `phoenix local …`: drives the local cluster's simulated cloud through the real Auto Scaling API. */
export async function local(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'scale') return scale(rest);
  throw new CliError(CliErrorCodes.USAGE, `usage: ${LOCAL_USAGE}`);
}

async function scale(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand('local scale', argv, {
    group: { type: 'string', default: 'minions' },
    out: { type: 'string' },
  });
  const out = outputFormat(values.out);
  if (positionals.length !== 1) throw new CliError(CliErrorCodes.USAGE, `usage: ${LOCAL_USAGE}`);
  const desired = parseCount('N', positionals[0], 0, 10_000);
  if (values.group !== 'minions' && values.group !== 'masters') {
    throw new CliError(CliErrorCodes.USAGE, `--group must be minions or masters, not "${values.group}"`);
  }
  const cluster = await requireLocalCluster();
  const group = cluster.groups[values.group];
  const client = new AutoScalingClient(awsClientConfig(cluster.aws, 'autoscaling'));
  try {
    await client.send(new SetDesiredCapacityCommand({ AutoScalingGroupName: group, DesiredCapacity: desired }));
  } catch (err) {
    throw new CliError(CliErrorCodes.AWS_REQUEST_FAILED, `could not scale ${group}: ${(err as Error).message}`, err);
  } finally {
    client.destroy();
  }
  emit(out, { group, desiredCapacity: desired }, () => `${group}: desired capacity ${desired}`);
  return 0;
}
