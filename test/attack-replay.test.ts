import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { adminEnv, everyMasterAnswers, refused as refusedAt } from './lib/attack.js';
import { json, phoenix } from './lib/cli.js';
import { startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { HostileMinion, type Frames } from './lib/hostile-minion.js';

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
const masters: RunningMaster[] = [];
let master: RunningMaster;
let victim: HostileMinion;
let attacker: HostileMinion;
after(() => {
  victim?.close();
  attacker?.close();
});

const env = (): NodeJS.ProcessEnv => adminEnv(master, dir());
const refused = (reason: string, at: RunningMaster = master): Promise<number> => refusedAt(at, 'wire', reason);

/** Submits a job to `id` without waiting for it; the jid. */
async function submit(id: string): Promise<string> {
  return json<{ jid: string }>(await phoenix(['run', id, 'test.ping', '--async', '--out', 'json'], env())).jid;
}

/** A job's returns as the master stored them. */
async function returnsOf(jid: string): Promise<Array<{ minionId: string; ret: unknown }>> {
  return json<{ returns: Array<{ minionId: string; ret: unknown }> }>(
    await phoenix(['jobs', 'show', jid, '--out', 'json'], env()),
  ).returns;
}

const answer = (minion: HostileMinion, jid: string, ret: unknown) =>
  minion.send({
    v: 1,
    t: 'return',
    id: minion.id,
    jid,
    fun: 'test.ping',
    success: true,
    retcode: 0,
    ret,
    startedAt: 0,
    finishedAt: 0,
  });

test('two masters, a genuine minion, and two accepted hand-made ones, the victim with a session', async () => {
  for (const id of ['m1', 'm2']) masters.push(await startMasterProcess(devstack(), dir(), processes, id));
  master = masters[0] as RunningMaster;
  await startMinionProcess(devstack(), dir(), processes, 'steady-1', masters);
  victim = new HostileMinion('victim-1', devstack().clusterKeys.publicKey);
  attacker = new HostileMinion('attacker-1', devstack().clusterKeys.publicKey);
  assert.equal(await victim.enrol(master), 'pending');
  assert.equal(await attacker.enrol(master), 'pending');
  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env())).keys
        .length === 3,
    { what: 'three keys pending', timeoutMs: 20_000 },
  );
  await phoenix(['keys', 'accept', '*'], env());
  const welcome = await waitFor(() => victim.connect(master, 2_000), {
    what: 'the victim welcomed',
    timeoutMs: 20_000,
  });
  assert.equal(welcome.t, 'welcome');
});

test('a captured hello replayed on another connection neither takes the session nor receives its next job', async () => {
  // The victim's hello exactly as it went out: [body, seal], after the knock.
  const hello = victim.sent.find((frames) => frames.length === 2) as Frames;
  const noChallengeBefore = await refused('no-challenge');
  const badSealBefore = await refused('bad-seal');

  // On a connection of its own with its own accepted key: first without a knock, then after one.
  attacker.open(master);
  await attacker.sendFrames(hello);
  await waitFor(async () => (await refused('no-challenge')) > noChallengeBefore, {
    what: 'the hello without a challenge to be refused',
  });
  assert.ok(await attacker.knock(), 'the attacker gets a nonce of its own');
  await attacker.sendFrames(hello);
  await waitFor(async () => (await refused('bad-seal')) > badSealBefore, {
    what: 'the hello sealed for another connection to be refused',
  });
  assert.equal(
    attacker.received.find((m) => m.t === 'welcome'),
    undefined,
    'no welcome for the replay',
  );
  // And on another master, where the victim has no session at all.
  const other = masters[1] as RunningMaster;
  const otherBadSealBefore = await refused('bad-seal', other);
  const elsewhere = new HostileMinion('attacker-1', devstack().clusterKeys.publicKey, attacker.keyPair);
  try {
    elsewhere.open(other);
    assert.ok(await elsewhere.knock(), 'the attacker gets a nonce from the other master');
    await elsewhere.sendFrames(hello);
    await waitFor(async () => (await refused('bad-seal', other)) > otherBadSealBefore, {
      what: 'the other master to refuse the hello',
    });
    assert.equal(
      elsewhere.received.find((m) => m.t === 'welcome'),
      undefined,
      'no welcome on the other master',
    );
  } finally {
    elsewhere.close();
  }

  // The victim's next job reaches the victim, and nothing reaches the attacker's connection.
  const jid = await submit('victim-1');
  await victim.waitFor((m) => m.t === 'job' && m.jid === jid, 10_000);
  await answer(victim, jid, true);
  await victim.waitFor((m) => m.t === 'ack' && m.jid === jid, 10_000);
  assert.equal(
    attacker.received.find((m) => m.t === 'job'),
    undefined,
    'the attacker saw no job',
  );
  assert.deepEqual(
    (await returnsOf(jid)).map((r) => [r.minionId, r.ret]),
    [['victim-1', true]],
  );
  attacker.close();
  await everyMasterAnswers(masters, 'steady-1', dir());
});

test('a sealed message played again, on its own connection or a later one, is refused', async () => {
  const jid = await submit('victim-1');
  await victim.waitFor((m) => m.t === 'job' && m.jid === jid, 10_000);
  await answer(victim, jid, 'first');
  await victim.waitFor((m) => m.t === 'ack' && m.jid === jid, 10_000);
  const sentReturn = victim.sent[victim.sent.length - 1] as Frames;

  const replayBefore = await refused('replay');
  await victim.sendFrames(sentReturn); // the same frames again on the same connection: an old number
  await waitFor(async () => (await refused('replay')) > replayBefore, { what: 'the replay to be refused' });

  // A later connection has another nonce: the old seal verifies nowhere.
  assert.ok(await victim.connect(master), 'the victim reconnects');
  const badSealBefore = await refused('bad-seal');
  await victim.sendFrames(sentReturn);
  await waitFor(async () => (await refused('bad-seal')) > badSealBefore, {
    what: 'the old connection’s message to be refused on the new one',
  });
  const stored = await returnsOf(jid);
  assert.equal(stored.length, 1);
  assert.equal(stored[0]?.ret, 'first', 'what was stored is what was sent once');
  victim.close();
  await everyMasterAnswers(masters, 'steady-1', dir());
});
