import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Context } from 'zeromq';
import pino from 'pino';
import { startMinion, MinionConfigSchema, type Minion } from '@phoenix/minion';
import { failoverOrder } from '@phoenix/protocol';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, freePort, startMasterProcess, type RunningMaster } from './lib/cluster.js';

// Faults an operator's chaos drill throws at a cluster: freezes (SIGSTOP), kills (kill -9) and a
// restart storm, against real master processes, with minions that log what they do. Faster clocks
// than the defaults, so the file stays quick; the rules are the same. The targets themselves
// (failover within a heartbeat, home within settle time + spread, storm rounds within 5 s) are
// checked to the millisecond on a fake clock in packages/minion/test/master-pool.test.ts.
const MASTER_TIMING = { heartbeatIntervalMs: 500, minionHeartbeatMs: 500, deadAfterMs: 2_000, drainTimeoutMs: 3_000 };
const FAILOVER = { returnAfterMs: 2_000, moveSpreadMs: 1_000 };
const MINION_COUNT = 12;

interface LogLine {
  msg: string;
  time: number;
  jid?: string;
  master?: string;
  why?: string;
}
interface TestMinion {
  minion: Minion;
  lines: LogLine[];
}
const minions: TestMinion[] = [];
// Registered before the devstack's: the minions stop before the masters and the tables they would read.
after(async () => {
  await Promise.all(minions.map((m) => m.minion.stop()));
});
const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
const masters = new Map<string, RunningMaster>();
const context = new Context();

const live = (): RunningMaster[] =>
  [...masters.values()].filter((m) => m.process.exitCode === null && m.process.signalCode === null);
const env = (master: RunningMaster): NodeJS.ProcessEnv => ({
  PHOENIX_API: master.api,
  PHOENIX_TOKEN: ADMIN_TOKEN,
  PHOENIX_HOME: dir(),
});
const firstChoice = (minionId: string, ids: readonly string[]): string | undefined =>
  failoverOrder(minionId, [...ids], (id) => id)[0];
const onFirstChoice = (ids: readonly string[]): boolean =>
  minions.every(({ minion }) => minion.master === firstChoice(minion.id, ids));
/** The minions not on their first choice among `ids`, with what they logged since `since` (for a failure's message). */
const astray = (ids: readonly string[], since: number): object[] =>
  minions
    .filter(({ minion }) => minion.master !== firstChoice(minion.id, ids))
    .map(({ minion, lines }) => ({
      id: minion.id,
      on: minion.master,
      since: lines.filter((l) => l.time >= since).map((l) => `${l.time - since} ${l.msg} ${l.master ?? ''}`),
    }));
/** The live master holding the most minions. */
const busiest = (): RunningMaster =>
  live()
    .map((m) => ({ m, held: minions.filter(({ minion }) => minion.master === m.id).length }))
    .sort((x, y) => y.held - x.held)[0]?.m as RunningMaster;

async function startMaster(id: string): Promise<RunningMaster> {
  const master = await startMasterProcess(devstack(), dir(), processes, id, undefined, MASTER_TIMING);
  masters.set(id, master);
  return master;
}

/** A minion in this process whose log lines are kept, to see what it did and in which order. */
async function startTestMinion(id: string): Promise<TestMinion> {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'info' },
    {
      write(chunk: string) {
        for (const line of chunk.split('\n'))
          if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine & { master?: string });
      },
    },
  );
  const config = MinionConfigSchema.parse({
    id,
    masters: live().map((m) => ({ id: m.id, host: '127.0.0.1', port: m.ports.minion, enrolPort: m.ports.enrol })),
    clusterPublicKey: devstack().clusterKeys.publicKey,
    pkiDir: join(dir(), id, 'pki'),
    cacheDir: join(dir(), id, 'cache'),
    imds: { enabled: false },
    enrolRetryMs: 300,
    heartbeatMs: 500,
    aws: devstack().aws,
    tablePrefix: devstack().tablePrefix,
    failover: FAILOVER,
    masterList: { deadAfterMs: MASTER_TIMING.deadAfterMs },
  });
  return { minion: await startMinion(config, { context, log }), lines };
}

interface ShownJob {
  returns: unknown[];
  missing: string[];
  notConnected: string[];
}
async function jobShown(master: RunningMaster, jid: string): Promise<ShownJob> {
  return json<ShownJob>(await phoenix(['jobs', 'show', jid, '--out', 'json'], env(master)));
}

/** How many times each minion started the job `jid` (its executor logs every start). */
const starts = (jid: string): number[] =>
  minions.map(({ lines }) => lines.filter((l) => l.msg === 'job started' && l.jid === jid).length);

test(`three masters and ${MINION_COUNT} minions, each on its first choice`, async () => {
  for (const id of ['m1', 'm2', 'm3']) await startMaster(id);
  for (let i = 0; i < MINION_COUNT; i++) minions.push(await startTestMinion(`drill-${String(i).padStart(2, '0')}`));
  const any = live()[0] as RunningMaster;
  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env(any))).keys
        .length === MINION_COUNT,
    { what: 'every key pending', timeoutMs: 30_000 },
  );
  assert.equal((await phoenix(['keys', 'accept', '*'], env(any))).code, 0);
  await waitFor(() => onFirstChoice(['m1', 'm2', 'm3']), {
    what: 'every minion on its first-choice master',
    timeoutMs: 30_000,
  });
});

test('a frozen master: its minions fail over, and go home once the freeze ends and the master has settled', async () => {
  const frozen = busiest();
  const ids = live().map((m) => m.id);
  const home = minions.filter(({ minion }) => minion.master === frozen.id).map(({ minion }) => minion);
  assert.ok(home.length > 0);
  frozen.process.kill('SIGSTOP');
  try {
    await waitFor(() => home.every((m) => m.master !== undefined && m.master !== frozen.id), {
      what: `the minions of ${frozen.id} on other masters`,
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    // Frozen long enough for every registry to have it dead: it leaves every pushed list.
    await waitFor(
      async () =>
        json<{ masters: Array<{ masterId: string; liveness: string }> }>(
          await phoenix(['masters', '--out', 'json'], env(live().find((m) => m !== frozen) as RunningMaster)),
        ).masters.find((m) => m.masterId === frozen.id)?.liveness === 'dead',
      { what: `${frozen.id} dead to the cluster`, timeoutMs: 15_000 },
    );
  } finally {
    frozen.process.kill('SIGCONT');
  }
  const thawedAt = Date.now();
  await waitFor(() => home.every((m) => m.master === frozen.id), {
    what: `the minions of ${frozen.id} back on it (their first choice)`,
    timeoutMs: 30_000,
    intervalMs: 50,
  });
  console.log(
    `${frozen.id} thawed: its ${home.length} minions were home ${((Date.now() - thawedAt) / 1000).toFixed(2)} s later ` +
      `(settle ${FAILOVER.returnAfterMs / 1000} s + spread ${FAILOVER.moveSpreadMs / 1000} s, after the registries see it again)`,
  );
  assert.deepEqual(astray(ids, thawedAt - 10_000), [], 'every minion on its first choice again');
});

test('jobs survive a freeze: one published just before it and one forwarded into it reach every minion once', async () => {
  const frozen = busiest();
  const other = live().find((m) => m !== frozen) as RunningMaster;
  const held = minions.filter(({ minion }) => minion.master === frozen.id);
  assert.ok(held.length > 0);
  // Published into the master that freezes the moment it has answered.
  const before = json<{ jid: string }>(
    await phoenix(['run', '*', 'test.ping', '--async', '--timeout', '30', '--out', 'json'], env(frozen)),
  );
  frozen.process.kill('SIGSTOP');
  try {
    // Forwarded into it while its minions are still connected there (they notice within heartbeats).
    const into = json<{ jid: string }>(
      await phoenix(['run', '*', 'test.ping', '--async', '--timeout', '30', '--out', 'json'], env(other)),
    );
    for (const jid of [before.jid, into.jid]) {
      const shown = await waitFor(
        async () => {
          const out = await jobShown(other, jid);
          return out.missing.length === 0 ? out : undefined;
        },
        { what: `every minion's return of ${jid}`, timeoutMs: 20_000 },
      );
      assert.equal(
        shown.returns.length,
        MINION_COUNT,
        `${jid}: connected nowhere at submission, as its master judged: ${shown.notConnected.join(', ')}`,
      );
      assert.deepEqual(starts(jid), Array<number>(MINION_COUNT).fill(1), `${jid} ran once on every minion`);
    }
  } finally {
    frozen.process.kill('SIGCONT');
  }
});

test('restart storm: five rounds of kill -9 and a new master; every minion of the killed one gets in at its first try', async () => {
  const rounds: string[] = [];
  for (let round = 1; round <= 5; round++) {
    // Each round starts settled: every minion on its first choice among the live masters.
    const ids = live().map((m) => m.id);
    const waitedAt = Date.now();
    await waitFor(() => onFirstChoice(ids), { what: `round ${round}: a settled cluster`, timeoutMs: 30_000 }).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}; astray: ${JSON.stringify(astray(ids, waitedAt - 15_000))}`);
      },
    );
    const victim = busiest();
    const held = minions.filter(({ minion }) => minion.master === victim.id);
    const marks = new Map(held.map((m) => [m, m.lines.length]));
    victim.process.kill('SIGKILL');
    const killedAt = Date.now();
    const replacement = startMaster(`m${3 + round}`);
    // Awaited at the end of the round; a failure before then still reaches this test, not the process.
    replacement.catch(() => undefined);
    await waitFor(() => held.every(({ minion }) => minion.master !== undefined && minion.master !== victim.id), {
      what: `round ${round}: the minions of ${victim.id} on other masters`,
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    const reconnected = Date.now() - killedAt;
    const survivor = live().find((m) => m !== victim) as RunningMaster;
    await waitFor(
      async () => {
        const out = await phoenix(['run', '*', 'test.ping', '--timeout', '2', '--out', 'json'], env(survivor));
        return Object.keys(json<{ returns: object }>(out).returns).length === MINION_COUNT;
      },
      { what: `round ${round}: every minion to answer`, timeoutMs: 20_000 },
    );
    rounds.push(`${victim.id}: ${held.length} moved in ${(reconnected / 1000).toFixed(2)} s`);
    // What each did after losing its master: it saw the connection go (no waiting out heartbeats),
    // and the next master it tried let it in.
    for (const m of held) {
      const since = m.lines.slice(marks.get(m));
      const lostAt = since.findIndex((l) => l.msg.includes('failing over'));
      assert.ok(lostAt >= 0, `${m.minion.id} noticed the kill: ${since.map((l) => l.msg).join(' / ')}`);
      assert.equal(since[lostAt]?.why, 'gone', `${m.minion.id} saw the connection close, not a silence`);
      const next = since.slice(lostAt + 1);
      const inAt = next.findIndex((l) => l.msg === 'connected');
      assert.ok(inAt >= 0, `${m.minion.id} connected again`);
      assert.deepEqual(
        next.slice(0, inAt).filter((l) => l.msg === 'no welcome from the master' || l.msg === 'connection failed'),
        [],
        `${m.minion.id} got in at its first try after losing ${victim.id}`,
      );
    }
    await replacement;
  }
  console.log(`restart storm: ${rounds.join('; ')}`);
});

test('every listed master dead: the minion reads the masters table at once and reaches a live master only it lists', async () => {
  // Masters it was configured with that are all gone: nothing listens where they were.
  const dead = await Promise.all(
    ['gone-1', 'gone-2', 'gone-3'].map(async (id) => ({
      id,
      ports: { minion: await freePort(), enrol: await freePort() },
    })),
  );
  const lines: LogLine[] = [];
  const config = MinionConfigSchema.parse({
    id: 'drill-late',
    // Only masters that are gone: no live master will push it a list.
    masters: dead.map((m) => ({ id: m.id, host: '127.0.0.1', port: m.ports.minion, enrolPort: m.ports.enrol })),
    clusterPublicKey: devstack().clusterKeys.publicKey,
    pkiDir: join(dir(), 'drill-late', 'pki'),
    cacheDir: join(dir(), 'drill-late', 'cache'),
    imds: { enabled: false },
    enrolRetryMs: 300,
    heartbeatMs: 500,
    aws: devstack().aws,
    tablePrefix: devstack().tablePrefix,
    // The periodic fallback would read the table only after a minute: the read must come from the exhausted list.
    masterList: { deadAfterMs: MASTER_TIMING.deadAfterMs, connectGraceMs: 60_000 },
  });
  const log = pino({ level: 'info' }, { write: (chunk: string) => void lines.push(JSON.parse(chunk) as LogLine) });
  const minion = await startMinion(config, { context, log });
  minions.push({ minion, lines });
  const startedAt = Date.now();
  await waitFor(() => minion.state === 'pending' || minion.state === 'connected', {
    what: 'the minion to reach a live master',
    timeoutMs: 20_000,
    intervalMs: 20,
  });
  console.log(
    `a minion whose ${dead.length} masters are all dead reached a live one ${((Date.now() - startedAt) / 1000).toFixed(2)} s after it started`,
  );
  assert.equal(minion.mastersTableReads, 1, 'one masters-table read');
  assert.ok(
    lines.some((l) => l.msg === 'no listed master answers; reading the masters table'),
    'the read came from the exhausted list',
  );
});
