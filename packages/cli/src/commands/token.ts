import { requireLocalCluster } from '../connection-file.js';
import { PhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from '../errors.js';

/** `phoenix token`: the local cluster's admin token, for the dashboard and --token. */
export async function token(): Promise<number> {
  const cluster = await requireLocalCluster();
  if (cluster.token === undefined) {
    throw new PhoenixError(
      CliErrors.PHX_CLI_NO_LOCAL_CLUSTER,
      'the local cluster is still starting; try again in a moment',
    );
  }
  process.stdout.write(`${cluster.token}\n`);
  return 0;
}
