import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import type { DevstackInfo, InstanceLauncher, LaunchRequest, RunningInstance } from '@phoenix/devstack';
import type { PhoenixBinaries } from './binaries.js';
import { instancePidFile, LOCAL_MINION_GRAINS, masterConfig, masterPkiDir, minionConfig } from './instance-config.js';
import { startInstanceProcess } from './instance-process.js';
import { LiveMasters } from './live-masters.js';
import { PhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from '../errors.js';

export type InstanceRole = 'master' | 'minion';

/** One instance the launcher started, as `phoenix up` reports it (a frozen copy). */
export interface LaunchedInstance {
  readonly instanceId: string;
  readonly role: InstanceRole;
  readonly pid: number;
  readonly logPath: string;
  /** Set once the process has ended. */
  readonly exit?: { code: number | null; signal: NodeJS.Signals | null };
}

export interface ProcessLauncherOptions {
  /** The local cloud: endpoints, table prefix, cluster key pair and the two group names. */
  cloud: Pick<DevstackInfo, 'aws' | 'tablePrefix' | 'clusterKeys' | 'options' | 'lifecycle' | 'identityCertificate'>;
  /** Each instance gets `<instancesDir>/<instance-id>/` for its config, keys, cache and log. */
  instancesDir: string;
  /** SHA-256 (hex) of the admin token the masters accept. */
  adminTokenSha256: string;
  /** The state tree every local master serves as its file_roots and renders pillar from. */
  stateTree: { fileRoot: string; pillarRoot: string };
  binaries: PhoenixBinaries;
  logger: Logger;
  /** Each minion's states manage `<sandboxRoot>/<instance-id>` instead of this host's `/`. */
  sandboxRoot?: string;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 10 s. */
  stopGraceMs?: number;
}

/**
 * Launches the local cluster's simulated instances as real programs: phoenix-master for the
 * masters group and phoenix-minion for the minions group, each with a config file written for
 * its instance, the way user data would configure an EC2 instance.
 */
export class ProcessLauncher implements InstanceLauncher {
  /** Also the source of `phoenix up`'s API list: the launcher owns the one masters-table reader. */
  readonly masters: LiveMasters;
  readonly #options: ProcessLauncherOptions;
  readonly #log: Logger;
  readonly #launched = new Map<string, LaunchedInstance>();

  constructor(options: ProcessLauncherOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'process-launcher' });
    this.masters = new LiveMasters(options.cloud.aws, options.cloud.tablePrefix);
  }

  async launch(request: LaunchRequest): Promise<RunningInstance> {
    const role = this.#roleOf(request.groupName);
    const dir = join(this.#options.instancesDir, request.instanceId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const config = role === 'master' ? await this.#masterConfig(request, dir) : await this.#minionConfig(request, dir);
    const configPath = join(dir, `${role}.yaml`);
    await writeFile(configPath, stringify(config), { mode: 0o600 });
    const logPath = join(dir, `${role}.log`);
    const bin = role === 'master' ? this.#options.binaries.master : this.#options.binaries.minion;
    const child = await startInstanceProcess(bin, configPath, logPath);
    await writeFile(instancePidFile(dir, role), `${child.pid}\n`, { mode: 0o600 });

    const { instanceId } = request;
    let stopped = false;
    this.#launched.set(instanceId, Object.freeze({ instanceId, role, pid: child.pid, logPath }));
    this.#log.info({ instanceId, role, pid: child.pid, log: logPath }, 'instance process started');
    void child.exited.then((exit) => {
      const entry = this.#launched.get(instanceId);
      if (entry !== undefined) this.#launched.set(instanceId, Object.freeze({ ...entry, exit }));
      // An instance whose program dies stays "running" in the simulator, as an EC2 instance would.
      if (!stopped) this.#log.warn({ instanceId, role, ...exit, log: logPath }, 'instance process exited on its own');
    });
    return {
      pid: child.pid,
      stop: () => {
        stopped = true;
        return child.stop(this.#options.stopGraceMs ?? 10_000);
      },
    };
  }

  /** The instances launched so far (stopped ones included), optionally of one role. */
  instances(role?: InstanceRole): LaunchedInstance[] {
    return [...this.#launched.values()].filter((entry) => role === undefined || entry.role === role);
  }

  /** Releases the masters-table reader; call after the simulator has stopped every instance. */
  close(): void {
    this.masters.close();
  }

  #roleOf(groupName: string): InstanceRole {
    const { groups } = this.#options.cloud.options;
    if (groupName === groups.masters.name) return 'master';
    if (groupName === groups.minions.name) return 'minion';
    throw new PhoenixError(
      CliErrors.PHX_CLI_LOCAL_CLUSTER_FAILED,
      `no program to launch for auto-scaling group ${groupName}`,
    );
  }

  async #masterConfig(request: LaunchRequest, dir: string): Promise<Record<string, unknown>> {
    const { cloud } = this.#options;
    const pkiDir = masterPkiDir(dir);
    await mkdir(pkiDir, { recursive: true, mode: 0o700 });
    await writeFile(join(pkiDir, 'cluster.pub'), `${cloud.clusterKeys.publicKey}\n`, { mode: 0o644 });
    await writeFile(join(pkiDir, 'cluster.key'), `${cloud.clusterKeys.secretKey}\n`, { mode: 0o600 });
    return masterConfig({
      instanceId: request.instanceId,
      dir,
      aws: cloud.aws,
      tablePrefix: cloud.tablePrefix,
      adminTokenSha256: this.#options.adminTokenSha256,
      stateTree: this.#options.stateTree,
      reactor: {
        queueUrl: cloud.lifecycle.queueUrl,
        groups: { masters: cloud.options.groups.masters.name, minions: cloud.options.groups.minions.name },
        certificatePem: cloud.identityCertificate,
        accountId: cloud.options.accountId,
        region: cloud.options.region,
      },
    });
  }

  async #minionConfig(request: LaunchRequest, dir: string): Promise<Record<string, unknown>> {
    // The masters live at boot, as user data would list them on EC2; keeping the list current
    // afterwards is the minion's master-list manager's job.
    const masters = await this.masters.list();
    if (masters.length === 0) {
      throw new PhoenixError(
        CliErrors.PHX_CLI_LOCAL_CLUSTER_FAILED,
        `no live master for minion ${request.instanceId} to connect to; scale the masters group up first`,
      );
    }
    // Custom grains, as user data would write them: the role the README's examples target.
    await mkdir(join(dir, 'cache'), { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'cache', 'grains.yaml'), stringify({ ...LOCAL_MINION_GRAINS }), { mode: 0o600 });
    const { sandboxRoot } = this.#options;
    const stateRoot = sandboxRoot === undefined ? undefined : join(sandboxRoot, request.instanceId);
    if (stateRoot !== undefined) await mkdir(stateRoot, { recursive: true, mode: 0o755 });
    return minionConfig({
      ...(stateRoot === undefined ? {} : { stateRoot }),
      instanceId: request.instanceId,
      groupName: request.groupName,
      dir,
      identity: request.identity,
      clusterPublicKey: this.#options.cloud.clusterKeys.publicKey,
      masters,
      aws: this.#options.cloud.aws,
      tablePrefix: this.#options.cloud.tablePrefix,
    });
  }
}
