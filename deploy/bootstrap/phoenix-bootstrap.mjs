#!/usr/bin/env node
/* global fetch, AbortSignal, setTimeout, URL */
// phoenix-bootstrap: turns a fresh EC2 instance with the Phoenix release unpacked in
// /opt/phoenix/current into a master, a minion or a Salt-mode master-list manager. The
// CloudFormation user data runs it once, as root, after installing Node.js and the release.
//
//   phoenix-bootstrap.mjs master --region R --table-prefix P --cluster-keys-secret ARN
//       --api-tokens-secret ARN --queue-url URL --master-group NAME --minion-group NAME
//       [--highstate-failure ABANDON|CONTINUE] [--identity-certificate PEM] [--cluster-public-key KEY]
//       [--states-repo URL [--states-ref REF] [--states-secret ARN]] [--pillar-repo URL [--pillar-ref REF] [--pillar-secret ARN]]
//   phoenix-bootstrap.mjs minion --region R --table-prefix P --cluster-public-key KEY [--group NAME]
//   phoenix-bootstrap.mjs master-list --region R --table-prefix P [--restart-command CMD] [--salt-port N]
//   any role: [--no-start]   write everything, enable nothing (an image build, a test)
//
// What it reads: the instance metadata (IMDSv2: instance id, private address, the signed identity
// document, the group tag) and, for a master, two Secrets Manager secrets through the AWS CLI. What
// it writes: the role's config (following packages/{master,minion}/src/config.ts), the master's
// cluster keys, and the systemd unit from deploy/systemd; then `systemctl enable --now`.
//
// Environment, for hosts that are not a plain EC2 instance and for the test suite:
//   PHOENIX_BOOTSTRAP_ROOT       prefix of every path written (default /); not / means no useradd/chown
//   PHOENIX_BOOTSTRAP_IMDS       the metadata service (default http://169.254.169.254)
//   PHOENIX_BOOTSTRAP_AWS        the AWS CLI (default aws)
//   PHOENIX_BOOTSTRAP_SYSTEMCTL  systemctl (default systemctl)
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { stringify } from 'yaml';

const run = promisify(execFile);

const PATHS = Object.freeze({
  configDir: '/etc/phoenix',
  masterConfig: '/etc/phoenix/master.yaml',
  minionConfig: '/etc/phoenix/minion.yaml',
  masterListConfig: '/etc/phoenix/master-list.yaml',
  masterPki: '/etc/phoenix/pki',
  identityCertificate: '/etc/phoenix/identity-certificate.pem',
  minionState: '/var/lib/phoenix/minion',
  units: '/etc/systemd/system',
});

const USER = 'phoenix';
const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;
const ROLES = ['read', 'operate', 'admin'];

/** A failure to report in one line (no stack): bad input or a missing prerequisite. Exit status 1. */
class BootstrapError extends Error {}
/** A command line that could not be understood. Exit status 2. */
class UsageError extends BootstrapError {}

const env = process.env;
const root = env.PHOENIX_BOOTSTRAP_ROOT ?? '/';
const imdsEndpoint = (env.PHOENIX_BOOTSTRAP_IMDS ?? 'http://169.254.169.254').replace(/\/+$/, '');
const awsCli = env.PHOENIX_BOOTSTRAP_AWS ?? 'aws';
const systemctl = env.PHOENIX_BOOTSTRAP_SYSTEMCTL ?? 'systemctl';
/** Installing into another root (an image, a test) is done without users or ownership. */
const onHost = root === '/';
const unitSource = fileURLToPath(new URL('../systemd/', import.meta.url));

const log = (message) => process.stderr.write(`phoenix-bootstrap: ${message}\n`);
const at = (path) => join(root, path);

// ---- retries: IAM and the metadata service can lag a just-launched instance by seconds --------

async function retry(what, attempts, fn) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof BootstrapError || attempt >= attempts) throw err;
      const waitMs = Math.min(1000 * 2 ** (attempt - 1), 15_000);
      log(`${what} failed (${err.message.split('\n')[0]}); attempt ${attempt + 1} of ${attempts} in ${waitMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}

// ---- instance metadata (IMDSv2 only: the launch templates require tokens) ---------------------

let imdsToken;
async function imds(path, { optional = false } = {}) {
  return retry(`instance metadata ${path}`, 6, async () => {
    imdsToken ??= await (async () => {
      const response = await fetch(`${imdsEndpoint}/latest/api/token`, {
        method: 'PUT',
        headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '21600' },
        signal: AbortSignal.timeout(2_000),
      });
      if (!response.ok) throw new Error(`token: HTTP ${response.status}`);
      return response.text();
    })();
    const response = await fetch(`${imdsEndpoint}/latest/${path}`, {
      headers: { 'x-aws-ec2-metadata-token': imdsToken },
      signal: AbortSignal.timeout(2_000),
    });
    if (response.status === 404 && optional) return undefined;
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.text();
  });
}

async function instanceFacts() {
  const instanceId = (await imds('meta-data/instance-id')).trim();
  if (!/^i-[0-9a-f]{8,17}$/.test(instanceId)) throw new BootstrapError(`"${instanceId}" is not an instance id`);
  const document = await imds('dynamic/instance-identity/document');
  const signature = (await imds('dynamic/instance-identity/signature')).replace(/\s+/g, '');
  const parsed = JSON.parse(document);
  return {
    instanceId,
    privateIp: (await imds('meta-data/local-ipv4')).trim(),
    accountId: parsed.accountId,
    region: parsed.region,
    // Present when the launch template allows tags in the metadata (InstanceMetadataTags: enabled).
    group: (await imds('meta-data/tags/instance/aws:autoscaling:groupName', { optional: true }))?.trim(),
    identity: { document, signature },
  };
}

// ---- Secrets Manager, through the AWS CLI that Amazon Linux ships -----------------------------

async function secret(arn, region) {
  return retry(`reading secret ${arn}`, 8, async () => {
    const { stdout } = await run(
      awsCli,
      ['secretsmanager', 'get-secret-value', '--region', region, '--secret-id', arn, '--query', 'SecretString'],
      { maxBuffer: 1 << 20 },
    );
    // --query prints the string as JSON (--output json, the default), which survives any content.
    const value = JSON.parse(stdout);
    if (typeof value !== 'string') throw new BootstrapError(`secret ${arn} has no SecretString`);
    return value;
  });
}

function parseClusterKeys(text, arn) {
  let keys;
  try {
    keys = JSON.parse(text);
  } catch {
    throw new BootstrapError(`secret ${arn} is not JSON: it must be {"publicKey": "...", "secretKey": "..."}`);
  }
  if (!keys?.publicKey || !keys?.secretKey) {
    throw new BootstrapError(
      `secret ${arn} holds no cluster key pair yet: make one with \`phoenix keys init-cluster --pki-dir DIR\` and ` +
        `upload it with \`aws secretsmanager put-secret-value\` (docs/deploy-aws.md, "The cluster key pair")`,
    );
  }
  for (const name of ['publicKey', 'secretKey']) {
    if (!Z85_KEY.test(keys[name])) throw new BootstrapError(`secret ${arn}: ${name} is not a 40-character Z85 key`);
  }
  return { publicKey: keys.publicKey, secretKey: keys.secretKey };
}

/**
 * The API tokens secret: one token as CloudFormation generates it ({name, role, token}), or
 * {"tokens": [...]} / [...] of those. Masters keep only each token's SHA-256 (a `sha256` entry is
 * taken as it is).
 */
function parseApiTokens(text, arn) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BootstrapError(`secret ${arn} is not JSON`);
  }
  const list = Array.isArray(value) ? value : Array.isArray(value?.tokens) ? value.tokens : [value];
  return list.map((entry, i) => {
    const where = `secret ${arn}, token ${i + 1}`;
    if (typeof entry?.name !== 'string' || entry.name === '') throw new BootstrapError(`${where}: no name`);
    if (!ROLES.includes(entry.role)) throw new BootstrapError(`${where}: role must be one of ${ROLES.join(', ')}`);
    if (typeof entry.sha256 === 'string' && /^[0-9a-f]{64}$/.test(entry.sha256)) {
      return { name: entry.name, role: entry.role, sha256: entry.sha256 };
    }
    if (typeof entry.token !== 'string' || entry.token.length < 16) {
      throw new BootstrapError(`${where}: needs a token of at least 16 characters (or its sha256)`);
    }
    return { name: entry.name, role: entry.role, sha256: createHash('sha256').update(entry.token).digest('hex') };
  });
}

/** A PEM certificate pasted into a CloudFormation parameter may have lost its line breaks. */
function normalizeCertificate(text) {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text ?? '');
  if (!match) return undefined;
  const body = match[1].replace(/\s+/g, '');
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

// ---- files -------------------------------------------------------------------------------------

async function writeFileAtomic(path, contents, { mode, group } = {}) {
  const target = at(path);
  await mkdir(dirname(target), { recursive: true });
  const temp = `${target}.bootstrap-${process.pid}`;
  await writeFile(temp, contents, { mode });
  await chmod(temp, mode);
  if (group !== undefined && onHost) await chown(temp, 0, await gid(group));
  await rename(temp, target);
}

async function gid(group) {
  const { stdout } = await run('getent', ['group', group]);
  return Number(stdout.split(':')[2]);
}

async function ensureUser() {
  if (!onHost) return;
  const exists = await run('getent', ['passwd', USER]).then(
    () => true,
    () => false,
  );
  if (exists) return;
  await run('useradd', [
    '--system',
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/sbin/nologin',
    USER,
  ]);
  log(`created system user ${USER}`);
}

const yamlFile = (header, config) => `# ${header}\n${stringify(config, { lineWidth: 0 })}`;

async function installUnit(unit, start) {
  await mkdir(at(PATHS.units), { recursive: true });
  await copyFile(join(unitSource, unit), at(join(PATHS.units, unit)));
  await chmod(at(join(PATHS.units, unit)), 0o644);
  if (!start) {
    log(`installed ${unit} (not started: --no-start)`);
    return;
  }
  await run(systemctl, ['daemon-reload']);
  await run(systemctl, ['enable', '--now', unit]);
  log(`enabled and started ${unit}`);
}

// ---- the three roles ---------------------------------------------------------------------------

/**
 * A git root of the master's config from --<kind>-repo, --<kind>-ref, --<kind>-secret: the secret
 * (a Secrets Manager or SSM ARN) is the token of an https:// remote, the deploy key of an SSH one.
 */
function gitRoot(options, kind) {
  const url = options[`${kind}-repo`];
  if (!url) return undefined;
  const ref = options[`${kind}-ref`];
  const arn = options[`${kind}-secret`];
  const ssh = !/^https?:\/\//.test(url);
  const source = !arn ? undefined : /^arn:[^:]+:ssm:/.test(arn) ? { ssm: arn } : { secretsManager: arn };
  return {
    git: url,
    ...(ref ? { ref } : {}),
    ...(source === undefined ? {} : { auth: ssh ? { sshKey: source } : { token: source } }),
  };
}

function masterConfig({ facts, options, tokens, certificate }) {
  const states = gitRoot(options, 'states');
  const pillar = gitRoot(options, 'pillar');
  const groups = {
    // The cluster template's name for the masters' launching hook: each master completes its own.
    [options['master-group']]: { role: 'masters', launchingHook: 'phoenix-master-launching' },
    [options['minion-group']]: { role: 'minions', onHighstateFailure: options['highstate-failure'] },
  };
  return {
    id: facts.instanceId,
    advertise: facts.privateIp,
    aws: { region: options.region },
    tablePrefix: options['table-prefix'],
    pkiDir: PATHS.masterPki,
    api: { tokens },
    ...(states === undefined ? {} : { fileRoots: { base: [states] } }),
    ...(pillar === undefined ? {} : { pillarRoots: { base: [pillar] } }),
    reactor: {
      queueUrl: options['queue-url'],
      groups,
      attestation:
        certificate === undefined
          ? { enabled: false }
          : {
              enabled: true,
              certificate: PATHS.identityCertificate,
              accountId: facts.accountId,
              region: options.region,
            },
    },
  };
}

function minionConfig({ facts, options }) {
  const group = options.group || facts.group;
  return {
    id: facts.instanceId,
    instanceId: facts.instanceId,
    ...(group ? { autoscalingGroup: group } : {}),
    identityDocument: facts.identity,
    clusterPublicKey: options['cluster-public-key'],
    // Empty on purpose: the agent's master-list manager reads the live masters from the table
    // within connectGraceMs of starting and writes them here in this minion's failover order.
    masters: [],
    pkiDir: `${PATHS.minionState}/pki`,
    cacheDir: `${PATHS.minionState}/cache`,
    aws: { region: options.region },
    tablePrefix: options['table-prefix'],
  };
}

function masterListConfig({ facts, options }) {
  return {
    id: facts.instanceId,
    aws: { region: options.region },
    tablePrefix: options['table-prefix'],
    masterList: {
      mode: 'salt',
      salt: {
        ...(options['restart-command'] ? { restartCommand: options['restart-command'] } : {}),
        ...(options['salt-port'] ? { port: Number(options['salt-port']) } : {}),
      },
    },
  };
}

async function bootstrapMaster(options) {
  need(options, [
    'region',
    'table-prefix',
    'cluster-keys-secret',
    'api-tokens-secret',
    'queue-url',
    'master-group',
    'minion-group',
  ]);
  if (!['ABANDON', 'CONTINUE'].includes(options['highstate-failure'])) {
    throw new UsageError('--highstate-failure must be ABANDON or CONTINUE');
  }
  await ensureUser();
  const facts = await instanceFacts();
  const keys = parseClusterKeys(await secret(options['cluster-keys-secret'], options.region), 'cluster keys');
  if (options['cluster-public-key'] && options['cluster-public-key'] !== keys.publicKey) {
    throw new BootstrapError(
      'the cluster public key in the secret is not the one the minions pin (ClusterPublicKey): upload the pair whose public key you gave the stack',
    );
  }
  const tokens = parseApiTokens(await secret(options['api-tokens-secret'], options.region), 'api tokens');
  const certificate = normalizeCertificate(options['identity-certificate']);
  if (options['identity-certificate'] && certificate === undefined) {
    throw new BootstrapError('--identity-certificate is not a PEM certificate');
  }
  if (certificate === undefined) {
    log('no identity certificate: attestation is off, so auto-accept trusts the lifecycle record alone');
  }

  await mkdir(at(PATHS.masterPki), { recursive: true, mode: 0o750 });
  if (onHost) await chown(at(PATHS.masterPki), 0, await gid(USER));
  await writeFileAtomic(`${PATHS.masterPki}/cluster.pub`, `${keys.publicKey}\n`, { mode: 0o644 });
  // Readable by the master's group only; root owns it so the master cannot change it.
  await writeFileAtomic(`${PATHS.masterPki}/cluster.key`, `${keys.secretKey}\n`, { mode: 0o640, group: USER });
  if (certificate !== undefined) await writeFileAtomic(PATHS.identityCertificate, certificate, { mode: 0o644 });
  const config = masterConfig({ facts, options, tokens, certificate });
  await writeFileAtomic(
    PATHS.masterConfig,
    yamlFile('phoenix-master config, written by phoenix-bootstrap (packages/master/src/config.ts)', config),
    { mode: 0o640, group: USER },
  );
  log(`wrote ${PATHS.masterConfig} for master ${facts.instanceId} at ${facts.privateIp}`);
  await installUnit('phoenix-master.service', options.start);
}

async function bootstrapMinion(options) {
  need(options, ['region', 'table-prefix', 'cluster-public-key']);
  if (!Z85_KEY.test(options['cluster-public-key'])) {
    throw new BootstrapError('--cluster-public-key is not a 40-character Z85 key (see `phoenix keys init-cluster`)');
  }
  const facts = await instanceFacts();
  await mkdir(at(PATHS.minionState), { recursive: true, mode: 0o700 });
  const config = minionConfig({ facts, options });
  // Root only: the agent rewrites `masters` in this file (temp file and rename in /etc/phoenix).
  await writeFileAtomic(
    PATHS.minionConfig,
    yamlFile('phoenix-minion config, written by phoenix-bootstrap (packages/minion/src/config.ts)', config),
    { mode: 0o600 },
  );
  log(`wrote ${PATHS.minionConfig} for minion ${facts.instanceId} in ${config.autoscalingGroup ?? 'no group'}`);
  await installUnit('phoenix-minion.service', options.start);
}

async function bootstrapMasterList(options) {
  need(options, ['region', 'table-prefix']);
  const facts = await instanceFacts();
  const config = masterListConfig({ facts, options });
  await writeFileAtomic(
    PATHS.masterListConfig,
    yamlFile('phoenix-minion master-list config (Salt mode), written by phoenix-bootstrap', config),
    { mode: 0o600 },
  );
  log(`wrote ${PATHS.masterListConfig}`);
  await installUnit('phoenix-master-list.service', options.start);
}

function need(options, names) {
  const missing = names.filter((name) => !options[name]);
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(', ')}`);
}

const USAGE = `usage: phoenix-bootstrap.mjs master|minion|master-list --region R --table-prefix P [options]
  (see the header of this file, or docs/deploy-aws.md)`;

async function main(argv) {
  const [role, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      region: { type: 'string' },
      'table-prefix': { type: 'string' },
      'cluster-keys-secret': { type: 'string' },
      'api-tokens-secret': { type: 'string' },
      'cluster-public-key': { type: 'string' },
      'queue-url': { type: 'string' },
      'master-group': { type: 'string' },
      'minion-group': { type: 'string' },
      'highstate-failure': { type: 'string', default: 'ABANDON' },
      'identity-certificate': { type: 'string', default: '' },
      'states-repo': { type: 'string', default: '' },
      'states-ref': { type: 'string', default: '' },
      'states-secret': { type: 'string', default: '' },
      'pillar-repo': { type: 'string', default: '' },
      'pillar-ref': { type: 'string', default: '' },
      'pillar-secret': { type: 'string', default: '' },
      group: { type: 'string' },
      'restart-command': { type: 'string' },
      'salt-port': { type: 'string' },
      'no-start': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const options = { ...values, start: !values['no-start'] };
  if (role === 'master') return bootstrapMaster(options);
  if (role === 'minion') return bootstrapMinion(options);
  if (role === 'master-list') return bootstrapMasterList(options);
  throw new UsageError(`unknown role "${role ?? ''}"\n${USAGE}`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err) => {
    const usage = err instanceof UsageError || String(err?.code).startsWith('ERR_PARSE_ARGS');
    log(usage || err instanceof BootstrapError ? err.message : (err?.stack ?? String(err)));
    process.exit(usage ? 2 : 1);
  },
);
