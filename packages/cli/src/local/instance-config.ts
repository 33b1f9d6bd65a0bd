import { join } from 'node:path';
import type { AwsSettings } from '@phoenix/protocol';
import type { MasterRecord } from '@phoenix/store';

/**
 * The config files of the local cluster's instances, as plain data. They follow the schemas in
 * packages/master/src/config.ts and packages/minion/src/config.ts, which the programs validate at
 * start-up; the CLI writes them but never imports either package.
 */

export interface MasterInstance {
  instanceId: string;
  /** The instance's own directory: its pki directory and log live here. */
  dir: string;
  aws: AwsSettings;
  tablePrefix: string;
  /** SHA-256 (hex) of the local cluster's admin token: the token itself is never written here. */
  adminTokenSha256: string;
  /** The tree every master serves: the same directories, so every master reports the same tree hash. */
  stateTree: { fileRoot: string; pillarRoot: string };
  /** The lifecycle reactor's settings: the queue, the two groups, and the attestation certificate. */
  reactor: {
    queueUrl: string;
    groups: { masters: string; minions: string };
    certificatePem: string;
    accountId: string;
    region: string;
  };
}

export function masterConfig(instance: MasterInstance): Record<string, unknown> {
  return {
    id: instance.instanceId,
    bind: '127.0.0.1',
    advertise: '127.0.0.1',
    ports: { enrol: 0, minion: 0, peer: 0, api: 0 },
    aws: instance.aws,
    tablePrefix: instance.tablePrefix,
    pkiDir: masterPkiDir(instance.dir),
    api: { tokens: [{ name: 'local-admin', role: 'admin', sha256: instance.adminTokenSha256 }] },
    fileRoots: { base: [instance.stateTree.fileRoot] },
    pillarRoots: { base: [instance.stateTree.pillarRoot] },
    reactor: {
      queueUrl: instance.reactor.queueUrl,
      groups: {
        // The devstack's name for the masters' launching hook: each master completes its own.
        [instance.reactor.groups.masters]: {
          role: 'masters',
          launchingHook: `${instance.reactor.groups.masters}-launching`,
        },
        // The grains user data writes on each minion, vouched for by the masters (pillar, -G role:web).
        [instance.reactor.groups.minions]: { role: 'minions', grains: { ...LOCAL_MINION_GRAINS } },
      },
      // Short polls: a local cluster stops promptly; on AWS the 20 s default saves requests.
      waitTimeSeconds: 1,
      // Short leases, so a master lost mid-highstate is replaced in seconds on one machine.
      highstate: { leaseMs: 5_000, heartbeatMs: 1_000 },
      attestation: {
        enabled: true,
        certificate: instance.reactor.certificatePem,
        accountId: instance.reactor.accountId,
        region: instance.reactor.region,
      },
    },
    logLevel: 'info',
  };
}

/** Holds `cluster.pub` and `cluster.key`, the key pair every master of the cluster shares. */
export function masterPkiDir(dir: string): string {
  return join(dir, 'pki');
}

export interface MinionInstance {
  instanceId: string;
  groupName: string;
  dir: string;
  /** The signed EC2-style identity document the simulator made for this instance. */
  identity: { document: string; signature: string };
  clusterPublicKey: string;
  masters: readonly MasterRecord[];
  /** For the master-list manager's fallback read of the masters table. */
  aws: AwsSettings;
  tablePrefix: string;
  /** The directory the minion's states manage (its state.root); this host's `/` when unset. */
  stateRoot?: string;
}

export function minionConfig(instance: MinionInstance): Record<string, unknown> {
  return {
    id: instance.instanceId,
    instanceId: instance.instanceId,
    autoscalingGroup: instance.groupName,
    identityDocument: { document: instance.identity.document, signature: instance.identity.signature },
    clusterPublicKey: instance.clusterPublicKey,
    masters: instance.masters.map((master) => ({
      id: master.masterId,
      host: master.host,
      port: master.ports.minion,
      enrolPort: master.ports.enrol,
    })),
    pkiDir: join(instance.dir, 'pki'),
    cacheDir: join(instance.dir, 'cache'),
    aws: instance.aws,
    tablePrefix: instance.tablePrefix,
    // Not on EC2: the instance id and group come from this file, not from a metadata service.
    imds: { enabled: false },
    ...(instance.stateRoot === undefined ? {} : { state: { root: instance.stateRoot } }),
    logLevel: 'info',
  };
}

/** Where the CLI reaches a master's API. */
export function apiUrl(master: Pick<MasterRecord, 'host' | 'ports'>): string {
  const host = master.host.includes(':') ? `[${master.host}]` : master.host;
  return `http://${host}:${master.ports.api}`;
}

/** The custom grains every local minion starts with (as user data would write them on EC2). */
export const LOCAL_MINION_GRAINS = Object.freeze({ role: 'web' });

/** Where the local cluster keeps an instance's process id, for `phoenix local kill-master` and friends. */
export function instancePidFile(dir: string, role: 'master' | 'minion'): string {
  return join(dir, `${role}.pid`);
}
