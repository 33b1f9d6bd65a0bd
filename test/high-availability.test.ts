import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Context } from 'zeromq';
import pino from 'pino';
import { startMinion, MinionConfigSchema, type Minion } from '@phoenix/minion';
import { failoverOrder } from '@phoenix/protocol';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, type RunningMaster } from './lib/cluster.js';

// Faster clocks than the defaults, so the suite stays quick; the rules are the same.
const MASTER_TIMING = { heartbeatIntervalMs: 500, minionHeartbeatMs: 500, deadAfterMs: 2_000, drainTimeoutMs: 8_000 };
const MINION_COUNT = 20;

const minions: Minion[] = [];
// Registered before the devstack's: the minions stop before the masters and the tables they would read.
after(async () => {
  await Promise.all(minions.map((minion) => minion.stop()));
});
const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
const masters = new Map<string, RunningMaster>();

const env = (master: RunningMaster): NodeJS.ProcessEnv => ({
  PHOENIX_API: master.api,
  PHOENIX_TOKEN: ADMIN_TOKEN,
  PHOENIX_HOME: dir(),
});
const anyMaster = (): RunningMaster => [...masters.values()].find((m) => m.process.exitCode === null) as RunningMaster;
const firstChoice = (minionId: string, ids: string[]): string | undefined =>
  failoverOrder(minionId, ids, (id) => id)[0];
const placement = (): Map<string, string | undefined> => new Map(minions.map((m) => [m.id, m.master]));
const counts = (): Map<string, number> => {
  const byMaster = new Map<string, number>();
  for (const master of placement().values()) if (master) byMaster.set(master, (byMaster.get(master) ?? 0) + 1);
  return byMaster;
};

async function startMaster(id: string): Promise<RunningMaster> {
  const master = await startMasterProcess(devstack(), dir(), processes, id, undefined, MASTER_TIMING);
  masters.set(id, master);
  return master;
}

async function ping(master: RunningMaster, timeoutS = 3): Promise<{ code: number; returned: string[] }> {
  const out = await phoenix(['run', '*', 'test.ping', '--out', 'json', '--timeout', String(timeoutS)], env(master));
  return { code: out.code, returned: Object.keys(json<{ returns: object }>(out).returns ?? {}).sort() };
}

test(`three masters and ${MINION_COUNT} minions: the minions spread over the masters`, async () => {
  for (const id of ['m1', 'm2', 'm3']) await startMaster(id);
  const context = new Context();
  for (let i = 0; i < MINION_COUNT; i++) {
    const id = `node-${String(i).padStart(2, '0')}`;
    const config = MinionConfigSchema.parse({
      id,
      // Only one master is configured: the others are learnt from the masters it pushes.
      masters: [
        {
          id: 'm1',
          host: '127.0.0.1',
          port: masters.get('m1')?.ports.minion,
          enrolPort: masters.get('m1')?.ports.enrol,
        },
      ],
      clusterPublicKey: devstack().clusterKeys.publicKey,
      pkiDir: join(dir(), id, 'pki'),
      cacheDir: join(dir(), id, 'cache'),
      imds: { enabled: false },
      enrolRetryMs: 300,
      heartbeatMs: 500,
      aws: devstack().aws,
      tablePrefix: devstack().tablePrefix,
      failover: { returnAfterMs: 1_000, moveSpreadMs: 1_000 },
    });
    minions.push(await startMinion(config, { context, log: pino({ level: 'silent' }) }));
  }
  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(
        await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env(anyMaster())),
      ).keys.length === MINION_COUNT,
    { what: 'every key pending', timeoutMs: 30_000 },
  );
  await phoenix(['keys', 'accept', '*'], env(anyMaster()));
  // Each minion settles on its own first choice: rendezvous hashing of (minion id, master id).
  await waitFor(() => minions.every((m) => m.master === firstChoice(m.id, ['m1', 'm2', 'm3'])), {
    what: 'every minion connected to its first-choice master',
    timeoutMs: 40_000,
  });
  const even = MINION_COUNT / 3;
  for (const [master, count] of counts()) {
    assert.ok(
      count >= even * 0.5 && count <= even * 1.5,
      `${master} holds ${count} minions, within ±50% of ${even.toFixed(1)}`,
    );
  }
  console.log('placement', Object.fromEntries(counts()));
});

test('a job submitted to one master reaches the minions of all three, and any master shows all returns', async () => {
  const m1 = masters.get('m1') as RunningMaster;
  const result = await waitFor(
    async () => {
      const run = await ping(m1);
      return run.returned.length === MINION_COUNT ? run : undefined;
    },
    { what: 'every minion to answer through m1', timeoutMs: 20_000 },
  );
  assert.equal(result.code, 0);
  const submitted = json<{ jid: string }>(
    await phoenix(['run', '*', 'test.echo', 'everywhere', '--async', '--out', 'json'], env(m1)),
  );
  const shown = await waitFor(
    async () => {
      const out = json<{ returns: Array<{ ret: unknown }>; missing: string[] }>(
        await phoenix(['jobs', 'show', submitted.jid, '--out', 'json'], env(masters.get('m3') as RunningMaster)),
      );
      return out.missing.length === 0 ? out : undefined;
    },
    { what: 'm3 to show every return of a job submitted on m1', timeoutMs: 15_000 },
  );
  assert.equal(shown.returns.length, MINION_COUNT);
  assert.ok(shown.returns.every((r) => r.ret === 'everywhere'));
});

test('kill -9 of a master while a job runs: the job completes and every minion answers a new job through the others', async () => {
  const victim = masters.get('m2') as RunningMaster;
  const m1 = masters.get('m1') as RunningMaster;
  const held = [...placement()].filter(([, master]) => master === 'm2').map(([id]) => id);
  assert.ok(held.length > 0, 'm2 holds minions');
  const submitted = json<{ jid: string }>(
    await phoenix(['run', '*', 'test.sleep', '1', '--async', '--out', 'json'], env(m1)),
  );
  const killedAt = Date.now();
  victim.process.kill('SIGKILL');
  await waitFor(() => minions.every((m) => m.master !== undefined && m.master !== 'm2'), {
    what: "m2's minions to connect to other masters",
    timeoutMs: 20_000,
    intervalMs: 20,
  });
  const reconnected = (Date.now() - killedAt) / 1000;
  const answered = await ping(m1, 3);
  const recovery = (Date.now() - killedAt) / 1000;
  console.log(
    `kill -9 of m2: its ${held.length} minions reconnected after ${reconnected.toFixed(2)} s; ` +
      `all ${answered.returned.length} answered a new job ${recovery.toFixed(2)} s after the kill`,
  );
  assert.equal(answered.returned.length, MINION_COUNT, 'every minion answered the new job');
  // The 5 s target is measured here and by the benchmark; the test checks the behaviour, bounded above.
  const shown = await waitFor(
    async () => {
      const out = json<{ returns: unknown[]; missing: string[] }>(
        await phoenix(['jobs', 'show', submitted.jid, '--out', 'json'], env(m1)),
      );
      return out.missing.length === 0 ? out : undefined;
    },
    { what: 'the job running during the kill to complete', timeoutMs: 15_000 },
  );
  assert.equal(shown.returns.length, MINION_COUNT, 'a return from every minion, once each');
});

test('a new master: about 1/N of the minions move to it, and no others move', async () => {
  // From a settled start: a minion that failed over to its second choice (its first was slow to
  // answer on a loaded machine) moves home in its own time, and that move is not this test's.
  await waitFor(() => minions.every((m) => m.master === firstChoice(m.id, ['m1', 'm3'])), {
    what: 'every minion on its first choice among m1 and m3',
    timeoutMs: 30_000,
  });
  const before = placement();
  await startMaster('m4');
  const live = ['m1', 'm3', 'm4'];
  await waitFor(() => minions.every((m) => m.master === firstChoice(m.id, live)), {
    what: 'every minion on its first choice among m1, m3 and m4',
    timeoutMs: 30_000,
  });
  const moved = minions.filter((m) => m.master !== before.get(m.id));
  assert.ok(
    moved.every((m) => m.master === 'm4'),
    `only moves to the new master: ${moved.map((m) => `${m.id}->${m.master}`).join(', ')}`,
  );
  const even = MINION_COUNT / live.length;
  assert.ok(
    moved.length >= even * 0.5 && moved.length <= even * 1.5,
    `${moved.length} minions moved to m4, within ±50% of ${even.toFixed(1)}`,
  );
  console.log(`m4 joined: ${moved.length} of ${MINION_COUNT} minions moved to it, no others moved`);
});

test('SIGTERM of a master: its minions move before it exits, and no job is lost', async () => {
  const leaving = masters.get('m4') as RunningMaster;
  const m1 = masters.get('m1') as RunningMaster;
  const held = minions.filter((m) => m.master === 'm4').map((m) => m.id);
  assert.ok(held.length > 0, 'm4 holds minions');
  const submitted = json<{ jid: string }>(
    await phoenix(['run', '*', 'test.sleep', '1', '--async', '--out', 'json'], env(m1)),
  );
  leaving.process.kill('SIGTERM');
  await new Promise((resolve) => leaving.process.once('exit', resolve));
  const drained = processes
    .output(leaving.process)
    .split('\n')
    .find((line) => line.includes('"drained"'));
  assert.ok(drained, 'the master logged that it drained');
  assert.equal(
    (JSON.parse(drained) as { remaining: number }).remaining,
    0,
    'no minion was still connected when it exited',
  );
  assert.ok(
    minions.every((m) => m.master !== 'm4'),
    'every minion had moved away before the master exited',
  );
  const shown = await waitFor(
    async () => {
      const out = json<{ returns: unknown[]; missing: string[] }>(
        await phoenix(['jobs', 'show', submitted.jid, '--out', 'json'], env(m1)),
      );
      return out.missing.length === 0 ? out : undefined;
    },
    { what: 'the job that ran across the drain to complete', timeoutMs: 15_000 },
  );
  assert.equal(shown.returns.length, MINION_COUNT);
});

test('a frozen master (SIGSTOP) is dead to its minions and to phoenix masters, which say so once its heartbeat is older than deadAfter', async () => {
  const frozen = masters.get('m3') as RunningMaster;
  const m1 = masters.get('m1') as RunningMaster;
  await waitFor(() => minions.every((m) => m.master === 'm1' || m.master === 'm3'), {
    what: 'every minion connected',
    timeoutMs: 15_000,
  });
  frozen.process.kill('SIGSTOP');
  const frozenAt = Date.now();
  try {
    await waitFor(() => minions.every((m) => m.master === 'm1'), {
      what: "m3's minions to move to m1",
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    const minionsMoved = (Date.now() - frozenAt) / 1000;
    const { entry, askedAt } = await waitFor(
      async () => {
        const out = json<{ masters: Array<{ masterId: string; liveness: string; heartbeatAt: number }> }>(
          await phoenix(['masters', '--out', 'json'], env(m1)),
        );
        const askedAt = Date.now(); // not before the master judged: the same clock, read after its answer
        const found = out.masters.find((m) => m.masterId === 'm3');
        return found?.liveness === 'dead' ? { entry: found, askedAt } : undefined;
      },
      { what: 'phoenix masters to show m3 dead', timeoutMs: 15_000, intervalMs: 100 },
    );
    const shownDead = (Date.now() - frozenAt) / 1000;
    // The rule every reader applies: dead once the heartbeat is older than deadAfter, whatever the row says.
    assert.ok(askedAt - entry.heartbeatAt >= MASTER_TIMING.deadAfterMs, 'shown dead only past deadAfter');
    console.log(
      `SIGSTOP of m3: its minions moved after ${minionsMoved.toFixed(2)} s; phoenix masters showed it dead after ${shownDead.toFixed(2)} s (deadAfter ${MASTER_TIMING.deadAfterMs / 1000} s)`,
    );
    const answered = await ping(m1);
    assert.equal(answered.returned.length, MINION_COUNT);
  } finally {
    frozen.process.kill('SIGCONT');
  }
});
