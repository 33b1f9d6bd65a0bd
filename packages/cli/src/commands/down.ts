import { stopPid } from '@phoenix/devstack/processes';
import { readConnectionFile, removeConnectionFile } from '../connection-file.js';
import { processAlive } from '../home.js';
import { emit, type OutputFormat } from '../output.js';
import { PhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from '../errors.js';

/**
 * `phoenix down`: stops the local cluster, whether `phoenix up` runs in the foreground (another
 * terminal) or detached, and waits until it has exited.
 */
export async function down(options: { out?: OutputFormat }): Promise<number> {
  const out = options.out ?? 'text';
  const file = await readConnectionFile();
  if (file === undefined || !processAlive(file.pid)) {
    await removeConnectionFile();
    await emit(out, { status: 'stopped', wasRunning: false }, () => 'No local cluster is running.');
    return 0;
  }
  // It stops its instances and emulators first; a cluster that hangs longer is killed outright.
  const ended = await stopPid(file.pid, 30_000, 5_000);
  if (ended === 'alive') {
    throw new PhoenixError(CliErrors.PHX_CLI_LOCAL_CLUSTER_FAILED, `the local cluster (pid ${file.pid}) does not exit`);
  }
  const forced = ended === 'killed';
  await removeConnectionFile();
  await emit(out, { status: 'stopped', wasRunning: true, pid: file.pid, forced }, () =>
    forced
      ? `Local cluster (pid ${file.pid}) did not stop in time and was killed.`
      : `Local cluster (pid ${file.pid}) stopped.`,
  );
  return 0;
}
