import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { descendantPids, isRunning, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';

const home = useTempDir('phoenix-home-');
// No --api and no PHOENIX_API: every command must find the cluster through the connection file.
const env = (): NodeJS.ProcessEnv => ({ PHOENIX_HOME: home(), PHOENIX_API: undefined, PHOENIX_TOKEN: undefined });
const connectionFile = (): string => join(home(), 'local', 'cluster.json');

// Whatever happens in a test, no local cluster outlives this file.
after(async () => {
  await phoenix(['down'], env());
});

interface Started {
  status: string;
  pid: number;
  api: string[];
  groups: { masters: string; minions: string };
}
interface RunResult {
  returns: Record<string, { success: boolean; retcode: number; ret: unknown }>;
  failed: string[];
  missing: string[];
}

const run = async (...args: string[]): Promise<{ code: number; result: RunResult }> => {
  const out = await phoenix(['run', ...args, '--out', 'json', '--timeout', '10'], env());
  return { code: out.code, result: json<RunResult>(out) };
};

test('phoenix up starts real masters and minions that answer jobs through the connection file, and down leaves nothing', async () => {
  const started = await phoenix(['up', '--detach', '--masters', '1', '--minions', '3', '--out', 'json'], env());
  assert.equal(started.code, 0, started.stderr);
  const cluster = json<Started & { token?: string }>(started);
  assert.equal(cluster.status, 'running');
  assert.equal(cluster.api.length, 1, 'the one live master API is listed');
  assert.equal(cluster.token, undefined, 'the admin token is not printed');
  const file = JSON.parse(await readFile(connectionFile(), 'utf8')) as { api: string[]; token: string };
  assert.deepEqual(file.api, cluster.api);
  assert.match(file.token, /^[A-Za-z0-9_-]{40,}$/, 'a random admin token is in the connection file');
  const token = await phoenix(['token'], env());
  assert.equal(token.stdout, `${file.token}\n`, 'phoenix token prints the admin token');

  // The lifecycle reactor accepts the keys of the instances it saw launch, attested: no operator step.
  const pending = await waitFor(
    async () => {
      const listed = json<{ keys: Array<{ minionId: string; state: string }> }>(
        await phoenix(['keys', 'list', '--state', 'accepted', '--out', 'json'], env()),
      );
      return listed.keys.length === 3 ? listed.keys.map((k) => k.minionId) : undefined;
    },
    { what: 'three accepted minion keys', timeoutMs: 30_000 },
  );
  for (const id of pending) assert.match(id, /^i-[0-9a-f]{17}$/, 'a minion is named after its instance');

  const ping = await waitFor(
    async () => {
      const { code, result } = await run('*', 'test.ping');
      return code === 0 && Object.keys(result.returns).length === 3 ? result : undefined;
    },
    { what: 'all three minions to answer test.ping', timeoutMs: 20_000 },
  );
  for (const id of pending) assert.deepEqual(ping.returns[id], { success: true, retcode: 0, ret: true });

  // The group demo-web-devstack names the service: service_name demo, service_instance web, region devstack.
  const service = await run('*', 'grains.get', 'service_name');
  assert.equal(service.code, 0);
  for (const id of pending) assert.equal(service.result.returns[id]?.ret, 'demo');
  const node = await run('*', 'grains.get', 'service_node');
  for (const id of pending) assert.equal(node.result.returns[id]?.ret, `demo-web-devstack-${id.slice(2)}`);

  // The masters got the token's hash, never the token; their config and logs do not hold it.
  const instances = join(home(), 'local', 'instances');
  for (const dir of await readdir(instances)) {
    for (const name of await readdir(join(instances, dir))) {
      if (name.endsWith('.yaml') || name.endsWith('.log')) {
        assert.ok(!(await readFile(join(instances, dir, name), 'utf8')).includes(file.token), `${dir}/${name}`);
      }
    }
  }

  const below = await descendantPids(cluster.pid);
  assert.ok(below.length >= 4, `a master and three minions run below the cluster (found ${below.length})`);
  const stopped = await phoenix(['down', '--out', 'json'], env());
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.deepEqual(json(stopped), { status: 'stopped', wasRunning: true, pid: cluster.pid, forced: false });
  for (const pid of [cluster.pid, ...below]) assert.equal(await isRunning(pid), false, `pid ${pid} is gone`);
  assert.equal(existsSync(connectionFile()), false, 'the connection file is removed');
});

test('a kill -9 of phoenix up leaves no master or minion running', async () => {
  const started = await phoenix(['up', '--detach', '--masters', '1', '--minions', '1', '--out', 'json'], env());
  assert.equal(started.code, 0, started.stderr);
  const { pid } = json<Started>(started);
  const below = await waitFor(
    async () => {
      const pids = await descendantPids(pid);
      return pids.length >= 2 ? pids : undefined;
    },
    { what: 'the master and the minion processes', timeoutMs: 10_000 },
  );
  process.kill(pid, 'SIGKILL');
  await waitFor(
    async () => (await Promise.all([pid, ...below].map((p) => isRunning(p)))).every((running) => !running),
    {
      what: 'phoenix up and every instance process to end',
      timeoutMs: 10_000,
    },
  );
  const cleaned = await phoenix(['down', '--out', 'json'], env());
  assert.deepEqual(json(cleaned), { status: 'stopped', wasRunning: false });
  assert.equal(existsSync(connectionFile()), false, 'the stale connection file is removed');
});

test('phoenix keys init-cluster writes the cluster key pair with safe modes and never overwrites it unasked', async () => {
  const pkiDir = join(home(), 'pki');
  const made = await phoenix(['keys', 'init-cluster', '--pki-dir', pkiDir, '--out', 'json'], env());
  assert.equal(made.code, 0, made.stderr);
  const pair = json<{ publicKey: string; fingerprint: string; publicKeyFile: string; secretKeyFile: string }>(made);
  assert.equal(pair.publicKeyFile, join(pkiDir, 'cluster.pub'));
  assert.equal((await stat(pair.publicKeyFile)).mode & 0o777, 0o644);
  assert.equal((await stat(pair.secretKeyFile)).mode & 0o777, 0o600);
  assert.equal((await readFile(pair.publicKeyFile, 'utf8')).trim(), pair.publicKey);
  assert.match(pair.fingerprint, /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
  const secret = await readFile(pair.secretKeyFile, 'utf8');
  assert.match(secret.trim(), /^\S{40}$/, 'a Z85 CURVE secret key');
  assert.ok(!made.stdout.includes(secret.trim()), 'the secret key is not printed');

  const again = await phoenix(['keys', 'init-cluster', '--pki-dir', pkiDir], env());
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exist.*--force.*\[PHX_CLI_CLUSTER_KEYS_EXIST\]/);
  assert.equal(await readFile(pair.secretKeyFile, 'utf8'), secret, 'the existing pair is kept');

  const forced = await phoenix(['keys', 'init-cluster', '--pki-dir', pkiDir, '--force', '--out', 'json'], env());
  assert.equal(forced.code, 0, forced.stderr);
  assert.notEqual(json<{ publicKey: string }>(forced).publicKey, pair.publicKey, '--force makes a new pair');
  assert.equal((await stat(pair.secretKeyFile)).mode & 0o777, 0o600);
});
