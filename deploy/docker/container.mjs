/* global setTimeout */
// The Phoenix container's roles (docker-compose.yml, docs/docker-compose.md); entrypoint.sh calls it.
//
//   devstack          the local cloud: Phoenix's devstack (DynamoDB, SQS/SNS, auto-scaling API) on the
//                     container's loopback, which every other service shares (network_mode: service:cloud)
//   init              the cluster key pair and an admin token in the shared volume, once
//   configure-master  writes /etc/phoenix/master.yaml for PHOENIX_ID and PHOENIX_PORTS
//   configure-minion  writes /etc/phoenix/minion.yaml for PHOENIX_ID
//
// The devstack writes what the others need to <shared>/devstack.json (its endpoints, credentials,
// queue and groups); that file existing is its health check. The configs follow the schemas in
// packages/master/src/config.ts and packages/minion/src/config.ts, as `phoenix up` writes them.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const env = process.env;
const shared = env.PHOENIX_SHARED ?? '/var/lib/phoenix/shared';
const configDir = env.PHOENIX_CONFIG_DIR ?? '/etc/phoenix';
const minionState = env.PHOENIX_MINION_STATE ?? '/var/lib/phoenix/minion';
const devstackFile = join(shared, 'devstack.json');
const log = (message) => process.stderr.write(`phoenix-container: ${message}\n`);

async function writeAtomic(path, contents, mode) {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, contents, { mode });
  await rename(temp, path);
}

function port(name, fallback) {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new Error(`${name}=${value} is not a port`);
  return Number(value);
}

async function devstack() {
  // Imported here: only this role needs the emulators.
  const { startDevstack } = await import('@phoenix/devstack');
  // A file left by an earlier run describes a cloud that no longer exists (its tables were in memory).
  await rm(devstackFile, { force: true });
  const cloud = await startDevstack({
    host: '127.0.0.1',
    ports: {
      dynamodb: port('PHOENIX_DEVSTACK_DYNAMODB_PORT', 8000),
      messaging: port('PHOENIX_DEVSTACK_MESSAGING_PORT', 9324),
      autoscaling: port('PHOENIX_DEVSTACK_AUTOSCALING_PORT', 8950),
    },
    region: env.PHOENIX_REGION ?? 'us-east-1',
    tablePrefix: env.PHOENIX_TABLE_PREFIX ?? 'phoenix',
  });
  const info = {
    aws: cloud.aws,
    tablePrefix: cloud.tablePrefix,
    queueUrl: cloud.lifecycle.queueUrl,
    groups: { masters: cloud.options.groups.masters.name, minions: cloud.options.groups.minions.name },
    identityCertificate: cloud.identityCertificate,
    accountId: cloud.options.accountId,
    region: cloud.options.region,
  };
  await writeAtomic(devstackFile, `${JSON.stringify(info, null, 2)}\n`, 0o644);
  log(`local cloud ready: dynamodb ${cloud.aws.endpoints.dynamodb}, sqs ${cloud.aws.endpoints.sqs}`);
  await new Promise((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await rm(devstackFile, { force: true });
  await cloud.stop();
  log('local cloud stopped');
}

async function init() {
  await mkdir(shared, { recursive: true });
  if (existsSync(join(shared, 'cluster.key'))) {
    log(`cluster key pair already in ${shared}`);
  } else {
    // The same command an operator runs for a real cluster (docs/deploy-aws.md).
    const made = spawnSync('phoenix', ['keys', 'init-cluster', '--pki-dir', shared], { stdio: 'inherit' });
    if (made.status !== 0) throw new Error('phoenix keys init-cluster failed');
  }
  const tokenFile = join(shared, 'admin.token');
  if (!existsSync(tokenFile)) {
    await writeAtomic(tokenFile, `${randomBytes(24).toString('hex')}\n`, 0o600);
    log(`wrote an admin token to ${tokenFile}`);
  }
}

async function readDevstack() {
  // depends_on waits for the health check; this bound covers a cloud restarted under a running master.
  for (let waited = 0; ; waited += 500) {
    try {
      return JSON.parse(await readFile(devstackFile, 'utf8'));
    } catch (err) {
      if (waited >= 120_000)
        throw new Error(`no ${devstackFile} after 120 s: is the cloud service up? (${err.message})`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function id() {
  const value = env.PHOENIX_ID;
  if (!value) throw new Error('set PHOENIX_ID (the master or minion id)');
  return value;
}

async function configureMaster() {
  const cloud = await readDevstack();
  const ports = (env.PHOENIX_PORTS ?? '4505,4506,4507,8080').split(',').map(Number);
  if (ports.length !== 4 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    throw new Error(`PHOENIX_PORTS=${env.PHOENIX_PORTS}: give enrol,minion,peer,api`);
  }
  const [enrol, minion, peer, api] = ports;
  const token = (await readFile(join(shared, 'admin.token'), 'utf8')).trim();
  const config = {
    id: id(),
    // Every service shares the cloud's network namespace: loopback reaches every master. The
    // sockets bind to every address so that the published API port reaches this master.
    bind: '0.0.0.0',
    advertise: '127.0.0.1',
    ports: { enrol, minion, peer, api },
    aws: cloud.aws,
    tablePrefix: cloud.tablePrefix,
    pkiDir: shared,
    api: {
      tokens: [{ name: 'compose-admin', role: 'admin', sha256: createHash('sha256').update(token).digest('hex') }],
    },
    reactor: {
      queueUrl: cloud.queueUrl,
      groups: { [cloud.groups.masters]: { role: 'masters' }, [cloud.groups.minions]: { role: 'minions' } },
      attestation: {
        enabled: true,
        certificate: cloud.identityCertificate,
        accountId: cloud.accountId,
        region: cloud.region,
      },
    },
    logLevel: env.PHOENIX_LOG_LEVEL ?? 'info',
  };
  await writeAtomic(join(configDir, 'master.yaml'), `${JSON.stringify(config, null, 2)}\n`, 0o600);
}

async function configureMinion() {
  const cloud = await readDevstack();
  const config = {
    id: id(),
    clusterPublicKey: (await readFile(join(shared, 'cluster.pub'), 'utf8')).trim(),
    // The agent's master-list manager reads the live masters from the table and writes them here.
    masters: [],
    pkiDir: join(minionState, 'pki'),
    cacheDir: join(minionState, 'cache'),
    aws: cloud.aws,
    tablePrefix: cloud.tablePrefix,
    imds: { enabled: false },
    // Read the table every 5 s (±20%) while no master answers, so a minion started with the
    // masters finds them at once; connected minions do not read the table at all.
    masterList: { pollMs: 5_000 },
    logLevel: env.PHOENIX_LOG_LEVEL ?? 'info',
  };
  await writeAtomic(join(configDir, 'minion.yaml'), `${JSON.stringify(config, null, 2)}\n`, 0o600);
}

const roles = {
  devstack,
  init,
  'configure-master': configureMaster,
  'configure-minion': configureMinion,
};
const role = roles[process.argv[2] ?? ''];
if (role === undefined) {
  log(`usage: container.mjs ${Object.keys(roles).join('|')}`);
  process.exit(2);
}
role().then(
  () => process.exit(0),
  (err) => {
    log(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
