import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { acceptWhenPending, adminEnv, api, everyMasterAnswers, refused, untilAnswers } from './lib/attack.js';
import { startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { HostileMinion } from './lib/hostile-minion.js';

// A minion with an accepted key floods its master with returns for jobs that do not exist: the
// master keeps serving the genuine minion, counts every refused return, reads the jobs table
// once per made-up jid (not once per message), and logs one line per jid.
const DISTINCT_JIDS = 300;
// Below the master's send queue (1,000) in all: its acks never fill it, so the session it drops when
// it cannot queue one (a slow reader) is not what this test measures.
const REPEATS_OF_ONE = 600;

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
let master: RunningMaster;
let rogue: HostileMinion | undefined;
after(() => rogue?.close());

const env = (): NodeJS.ProcessEnv => adminEnv(master, dir());
const jid = (n: number): string => `2026010100000000${String(n).padStart(4, '0')}`;
const returnFor = (id: string, jobId: string): Record<string, unknown> => ({
  v: 1,
  t: 'return',
  id,
  jid: jobId,
  fun: 'test.ping',
  success: true,
  retcode: 0,
  ret: true,
  startedAt: 0,
  finishedAt: 0,
});

test('a master, a genuine minion and an accepted hostile one', async () => {
  master = await startMasterProcess(devstack(), dir(), processes, 'm1');
  await startMinionProcess(devstack(), dir(), processes, 'steady-1', [master], { heartbeatMs: 500 });
  rogue = new HostileMinion('rogue-1', devstack().clusterKeys.publicKey);
  assert.equal(await rogue.enrol(master), 'pending');
  await acceptWhenPending(env(), 2);
  await untilAnswers(env(), 'steady-1');
});

test(`returns for ${DISTINCT_JIDS} made-up jobs, then ${REPEATS_OF_ONE} for one: all counted, the master serving throughout`, async () => {
  const hostile = rogue as HostileMinion;
  const welcome = await waitFor(() => hostile.connect(master, 2_000), { what: 'rogue-1 welcomed', timeoutMs: 20_000 });
  assert.equal(welcome.t, 'welcome');
  const before = await refused(master, 'wire', 'unknown-job');
  const flood = (async () => {
    for (let i = 0; i < DISTINCT_JIDS; i++) await hostile.send(returnFor('rogue-1', jid(i)));
    for (let i = 0; i < REPEATS_OF_ONE; i++) await hostile.send(returnFor('rogue-1', jid(9_999)));
  })();
  // During the flood: the genuine minion answers.
  const started = Date.now();
  await everyMasterAnswers([master], 'steady-1', dir());
  const pingMs = Date.now() - started;
  await flood;
  const total = DISTINCT_JIDS + REPEATS_OF_ONE;
  let counted = 0;
  await waitFor(
    async () => {
      counted = (await refused(master, 'wire', 'unknown-job')) - before;
      return counted >= total;
    },
    { what: `all ${total} refused returns counted`, timeoutMs: 60_000 },
  ).catch(async (err: unknown) => {
    const { text } = await api(master, 'GET', '/metrics');
    const refusals = text.split('\n').filter((l) => l.startsWith('phoenix_refused_inputs_total{'));
    throw new Error(`${counted} of ${total} counted; refusals: ${refusals.join('; ')}`, { cause: err });
  });
  assert.equal((await refused(master, 'wire', 'unknown-job')) - before, total, 'each counted once');
  // One line per made-up jid, however many returns named it.
  const lines = processes
    .output(master.process)
    .split('\n')
    .filter((line) => line.includes('"refused a return for a job that does not exist"')).length;
  assert.equal(lines, DISTINCT_JIDS + 1);
  console.log(`the genuine minion's test.ping during the flood: ${pingMs} ms (CLI included)`);
  await everyMasterAnswers([master], 'steady-1', dir());
});
