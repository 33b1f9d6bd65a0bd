import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { startDevstack, type Devstack } from '@phoenix/devstack';
import type { MasterRecord } from '@phoenix/store';
import { locatePhoenixBinaries } from './binaries.js';
import { ProcessLauncher, type LaunchedInstance } from './process-launcher.js';
import { PhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from '../errors.js';

export const LOCAL_GROUPS = Object.freeze({ masters: 'phoenix-master-devstack', minions: 'demo-web-devstack' });

export interface LocalClusterOptions {
  masters: number;
  minions: number;
  /** Keep DynamoDB's tables here across runs; in memory when unset. */
  dataDir?: string;
  /** Each minion's states manage `<sandboxRoot>/<instance-id>` instead of this host's `/`. */
  sandboxRoot?: string;
  /** Instance directories go here; whatever a previous run left in it is removed first. */
  instancesDir: string;
  logger: Logger;
  /** How long the masters may take to become live. Default 30 s. */
  mastersReadyTimeoutMs?: number;
}

export interface LocalCluster {
  readonly devstack: Devstack;
  /** The admin token every local master accepts: handed out only through the connection file. */
  readonly adminToken: string;
  /** The live masters, read from the masters table. */
  liveMasters(): Promise<MasterRecord[]>;
  instances(): LaunchedInstance[];
  /** Stops the instances first, then the local cloud. */
  stop(): Promise<void>;
}

/**
 * The local cluster of `phoenix up`: the embedded cloud, whose simulated auto-scaling groups
 * launch real phoenix-master and phoenix-minion processes. Both groups start empty; the masters
 * group is scaled up first and the minions group only once that many masters are live, so every
 * minion boots knowing a master. A failure part-way stops whatever had started.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  // Before anything starts: a missing build is an error now, not a launch failure retried forever.
  const binaries = locatePhoenixBinaries();
  const adminToken = randomBytes(32).toString('base64url');
  await rm(options.instancesDir, { recursive: true, force: true });
  await mkdir(options.instancesDir, { recursive: true, mode: 0o700 });
  const stateTree = await ensureStateTree(join(dirname(options.instancesDir), 'srv'));

  let launcher: ProcessLauncher | undefined;
  const devstack = await startDevstack(
    {
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      groups: {
        masters: { name: LOCAL_GROUPS.masters, desired: 0 },
        minions: { name: LOCAL_GROUPS.minions, desired: 0, max: 10_000 },
      },
    },
    {
      logger: options.logger,
      launcher: (cloud) =>
        (launcher = new ProcessLauncher({
          cloud,
          instancesDir: options.instancesDir,
          stateTree,
          adminTokenSha256: createHash('sha256').update(adminToken).digest('hex'),
          binaries,
          logger: options.logger,
          ...(options.sandboxRoot === undefined ? {} : { sandboxRoot: options.sandboxRoot }),
        })),
    },
  );
  if (launcher === undefined) {
    await devstack.stop();
    throw new PhoenixError(
      CliErrors.PHX_CLI_LOCAL_CLUSTER_FAILED,
      'the local cloud started without the process launcher',
    );
  }
  const processes = launcher;
  let stopping: Promise<void> | undefined;
  const cluster: LocalCluster = {
    devstack,
    adminToken,
    liveMasters: () => processes.masters.list(),
    instances: () => processes.instances(),
    // The simulator, which stops every instance, is the first thing the devstack stops.
    stop: () =>
      (stopping ??= devstack.stop().finally(() => {
        processes.close();
      })),
  };
  try {
    devstack.simulator.setDesiredCapacity(LOCAL_GROUPS.masters, options.masters);
    await waitForMasters(processes, options.masters, options.mastersReadyTimeoutMs ?? 30_000);
    devstack.simulator.setDesiredCapacity(LOCAL_GROUPS.minions, options.minions);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Resolves once `count` masters are live in the masters table; fails at once if one dies starting. */
async function waitForMasters(launcher: ProcessLauncher, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if ((await launcher.masters.list()).length >= count) return;
    } catch (err) {
      lastError = err;
    }
    const launched = launcher.instances('master');
    const dead = launched.find((instance) => instance.exit !== undefined);
    if (dead !== undefined) {
      throw new PhoenixError(
        CliErrors.PHX_CLI_LOCAL_CLUSTER_FAILED,
        `master ${dead.instanceId} exited while starting (${dead.exit?.signal ?? `status ${dead.exit?.code}`}); see ${dead.logPath}`,
      );
    }
    if (Date.now() >= deadline) {
      const logs = launched.map((instance) => instance.logPath);
      const cause = lastError instanceof Error ? ` (last error reading the masters table: ${lastError.message})` : '';
      throw new PhoenixError(
        CliErrors.PHX_CLI_LOCAL_CLUSTER_FAILED,
        `${count} master(s) did not become live within ${timeoutMs / 1000} s${cause}; ${
          logs.length > 0 ? `see ${logs.join(', ')}` : 'none was launched: see the phoenix up log'
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * The local cluster's state tree (`srv/salt`, `srv/pillar` beside the instances), served by every
 * master as its file_roots and pillar_roots. Made once
 * with a top that applies one state that changes nothing, so first highstates succeed; an
 * operator's edits are kept across restarts.
 */
async function ensureStateTree(dir: string): Promise<{ fileRoot: string; pillarRoot: string }> {
  const fileRoot = join(dir, 'salt');
  const pillarRoot = join(dir, 'pillar');
  const seed: Array<[string, string]> = [
    [join(fileRoot, 'top.sls'), "base:\n  '*':\n    - phoenix\n"],
    [join(fileRoot, 'phoenix.sls'), 'phoenix-managed:\n  test.succeed_without_changes: []\n'],
    [join(pillarRoot, 'top.sls'), 'base: {}\n'],
  ];
  for (const [path, text] of seed) {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  return { fileRoot, pillarRoot };
}
