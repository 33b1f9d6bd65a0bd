import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, type RunningMaster } from './lib/cluster.js';

// A job submitted while minions are between masters: the master they were on has died (every
// registry has it dead) and they have not said hello anywhere yet. Such a minion is on its way,
// not gone: the job must wait for it and reach it at its hello, once. Real masters, and a swarm
// process of minions held still (SIGSTOP) across the death of their master, so the job is certain
// to be submitted while they are connected nowhere.
const MASTER_TIMING = {
  heartbeatIntervalMs: 500,
  minionHeartbeatMs: 500,
  deadAfterMs: 2_000,
  minionTransitMs: 15_000,
};
const COUNT = 6;
const devstack = useDevstack();
const dir = useTempDir('phoenix-transit-');
const processes = useProcesses();
const swarmBin = fileURLToPath(new URL('../../packages/minion/bin/phoenix-minion.js', import.meta.url));
let frozenSwarm: number | undefined;
after(() => {
  // A swarm left frozen by a failed test must be able to stop.
  if (frozenSwarm !== undefined) process.kill(frozenSwarm, 'SIGCONT');
});

const env = (master: RunningMaster): NodeJS.ProcessEnv => ({
  PHOENIX_API: master.api,
  PHOENIX_TOKEN: ADMIN_TOKEN,
  PHOENIX_HOME: dir(),
});

test('a job submitted while its minions are between masters reaches each of them once, at its hello', async () => {
  const [m1, m2] = (await Promise.all(
    ['t1', 't2'].map((id) => startMasterProcess(devstack(), dir(), processes, id, undefined, MASTER_TIMING)),
  )) as [RunningMaster, RunningMaster];
  // Every minion starts on t1 and stays there (no move back within the test) until t1 dies.
  const config = {
    masters: [{ id: m1.id, host: '127.0.0.1', port: m1.ports.minion, enrolPort: m1.ports.enrol }],
    clusterPublicKey: devstack().clusterKeys.publicKey,
    pkiDir: join(dir(), 'swarm', 'pki'),
    cacheDir: join(dir(), 'swarm', 'cache'),
    imds: { enabled: false },
    enrolRetryMs: 300,
    heartbeatMs: 500,
    aws: devstack().aws,
    tablePrefix: devstack().tablePrefix,
    failover: { returnAfterMs: 600_000, moveSpreadMs: 0 },
    masterList: { deadAfterMs: MASTER_TIMING.deadAfterMs },
  };
  await mkdir(join(dir(), 'swarm'), { recursive: true });
  const path = join(dir(), 'swarm.yaml');
  await writeFile(path, JSON.stringify(config));
  const swarm = processes.spawn(process.execPath, [
    swarmBin,
    'swarm',
    '--count',
    String(COUNT),
    '--config',
    path,
    '--id-prefix',
    'transit',
  ]);
  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env(m2))).keys
        .length === COUNT,
    { what: 'every key pending', timeoutMs: 30_000 },
  );
  assert.equal((await phoenix(['keys', 'accept', '*'], env(m2))).code, 0);
  await waitFor(
    async () => {
      const out = await phoenix(['run', 'transit-*', 'test.ping', '--timeout', '3', '--out', 'json'], env(m2));
      return Object.keys(json<{ returns: object }>(out).returns).length === COUNT;
    },
    { what: 'every minion to answer', timeoutMs: 30_000 },
  );

  // Held still, then their master dies: when they run again they are between masters.
  swarm.kill('SIGSTOP');
  frozenSwarm = swarm.pid;
  m1.process.kill('SIGKILL');
  await waitFor(
    async () =>
      json<{ masters: Array<{ masterId: string; liveness: string }> }>(
        await phoenix(['masters', '--out', 'json'], env(m2)),
      ).masters.find((m) => m.masterId === m1.id)?.liveness === 'dead',
    { what: `${m1.id} dead to ${m2.id}`, timeoutMs: 15_000 },
  );
  const submitted = json<{ jid: string; minions: string[]; notConnected: string[] }>(
    await phoenix(
      ['run', 'transit-*', 'grains.append', 'phoenix_transit', '1', '--async', '--timeout', '30', '--out', 'json'],
      env(m2),
    ),
  );
  assert.equal(submitted.minions.length, COUNT);
  assert.deepEqual(
    submitted.notConnected,
    [],
    'minions whose master just died are on their way, not connected nowhere',
  );
  swarm.kill('SIGCONT');
  frozenSwarm = undefined;

  const shown = await waitFor(
    async () => {
      const out = json<{ returns: Array<{ minionId: string; ret: unknown }>; missing: string[] }>(
        await phoenix(['jobs', 'show', submitted.jid, '--out', 'json'], env(m2)),
      );
      return out.returns.length === COUNT ? out : undefined;
    },
    { what: `every minion's return of ${submitted.jid}`, timeoutMs: 30_000 },
  );
  for (const { minionId, ret } of shown.returns)
    assert.doesNotMatch(String(ret), /already in the list/, `${minionId} ran the job once`);
  const ledger = json<{ returns: Record<string, { ret: unknown }> }>(
    await phoenix(['run', 'transit-*', 'grains.get', 'phoenix_transit', '--timeout', '10', '--out', 'json'], env(m2)),
  );
  assert.equal(Object.keys(ledger.returns).length, COUNT);
  for (const [minionId, { ret }] of Object.entries(ledger.returns))
    assert.deepEqual(ret, [1], `${minionId} ran the job exactly once`);
});
