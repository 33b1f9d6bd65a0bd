import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig } from '@phoenix/protocol';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import {
  acceptWhenPending,
  adminEnv,
  api,
  everyMasterAnswers as answerThrough,
  metric,
  refused,
  untilAnswers,
} from './lib/attack.js';
import { startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { deepReturnBody, HostileMinion } from './lib/hostile-minion.js';

// Faster clocks than the defaults, so the file stays quick; the rules are the same.
const MASTER_TIMING = { heartbeatIntervalMs: 500, minionHeartbeatMs: 500, deadAfterMs: 2_000, drainTimeoutMs: 2_000 };
const QUARANTINE_AFTER = 5;

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
const masters: RunningMaster[] = [];
let rogue: HostileMinion;
after(() => rogue?.close());

const env = (master: RunningMaster): NodeJS.ProcessEnv => adminEnv(master, dir());
const first = (): RunningMaster => masters[0] as RunningMaster;
const everyMasterAnswers = (): Promise<void> => answerThrough(masters, 'steady-1', dir());

interface ListedKey {
  minionId: string;
  state: string;
  quarantined?: { reason: string; by: string };
}
const listedKey = async (master: RunningMaster, id: string): Promise<ListedKey | undefined> =>
  (JSON.parse((await api(master, 'GET', `/api/v1/keys?match=${id}`)).text) as { keys: ListedKey[] }).keys[0];

test('three masters, a genuine minion and an accepted hostile one', async () => {
  const reactor = { queueUrl: devstack().lifecycle.queueUrl, waitTimeSeconds: 1 };
  for (const id of ['m1', 'm2', 'm3'])
    masters.push(
      await startMasterProcess(devstack(), dir(), processes, id, undefined, {
        ...MASTER_TIMING,
        quarantine: { after: QUARANTINE_AFTER },
        reactor,
      }),
    );
  await startMinionProcess(devstack(), dir(), processes, 'steady-1', masters, { heartbeatMs: 500 });
  rogue = new HostileMinion('rogue-1', devstack().clusterKeys.publicKey);
  assert.equal(await rogue.enrol(first()), 'pending');
  await acceptWhenPending(env(first()), 2);
  await untilAnswers(env(first()), 'steady-1');
});

test('a return nested 200,000 arrays deep, sent to every master in turn, stops none of them', async () => {
  for (const master of masters) {
    const welcome = await waitFor(() => rogue.connect(master, 2_000), {
      what: `rogue-1 to be welcomed by ${master.id}`,
      timeoutMs: 20_000,
    });
    assert.equal(welcome.t, 'welcome');
    // The same jid is valid on every master: the job is the cluster's.
    const submitted = json<{ jid: string }>(
      await phoenix(['run', 'rogue-1', 'test.ping', '--async', '--out', 'json'], env(master)),
    );
    await rogue.waitFor((m) => m.t === 'job' && m.jid === submitted.jid, 10_000);
    const poison = deepReturnBody('rogue-1', submitted.jid, 200_000);
    assert.ok(poison.length > 190_000 && poison.length < 210_000, `${poison.length} bytes`);
    await rogue.sendBody(poison);
    await waitFor(async () => (await refused(master, 'wire', 'too-deep')) >= 1, {
      what: `${master.id} to count the refused return`,
      timeoutMs: 10_000,
    });
    await everyMasterAnswers();
    // The session was kept: the refused message cost only itself (and a strike).
    const shown = json<{ returns: unknown[]; missing: string[] }>(
      await phoenix(['jobs', 'show', submitted.jid, '--out', 'json'], env(master)),
    );
    assert.deepEqual(shown.returns, [], 'nothing of the poison was stored');
  }
  rogue.close();
});

test('a minion that keeps sending poison is quarantined on every master until an operator accepts it again', async () => {
  const master = masters[1] as RunningMaster;
  assert.ok(await waitFor(() => rogue.connect(master, 2_000), { what: 'a session on m2', timeoutMs: 20_000 }));
  // Kinds of poison, each on the minion's own sealed session: deep, a map of too many keys, not msgpack.
  const tooManyKeys = Buffer.concat([Buffer.from([0xdf, 0x00, 0x01, 0x10, 0x00]), Buffer.alloc(0x10000 * 2, 0xc0)]);
  const kinds = [deepReturnBody('rogue-1', '00000000000000000000', 1_000), tooManyKeys, Buffer.from([0xc1])];
  for (const body of kinds) await rogue.sendBody(body);
  // No more is sent. Strikes count on every master together: m2 alone has seen four (one in the
  // previous test), under the five that quarantine, but with the previous test's on m1 and m3 the
  // cluster has seen six.
  await waitFor(async () => (await listedKey(master, 'rogue-1'))?.quarantined !== undefined, {
    what: 'rogue-1 to be quarantined',
    timeoutMs: 20_000,
    intervalMs: 100,
  });
  for (const [reason, count] of [
    ['too-deep', 1],
    ['too-many-keys', 1],
    ['not-msgpack', 1],
  ] as const)
    assert.ok((await refused(master, 'wire', reason)) >= count, `${reason} counted on m2`);
  for (const m of masters) {
    const key = await listedKey(m, 'rogue-1');
    assert.equal(key?.state, 'accepted', 'the key itself stays accepted');
    assert.match(key?.quarantined?.reason ?? '', /refused messages within/, `${m.id} shows the quarantine`);
    assert.equal(await rogue.connect(m, 1_500), undefined, `${m.id} refuses the quarantined minion`);
  }
  const listed = await phoenix(['keys', 'list'], env(first()));
  assert.match(listed.stdout, /rogue-1 .* QUARANTINED: \d+ refused messages/);
  await everyMasterAnswers();

  const lifted = await phoenix(['keys', 'accept', 'rogue-1', '--out', 'json'], env(first()));
  assert.deepEqual(json<{ changes: unknown[] }>(lifted).changes, [
    { minionId: 'rogue-1', from: 'quarantined', to: 'accepted' },
  ]);
  for (const m of masters) {
    const welcome = await waitFor(() => rogue.connect(m, 1_500), {
      what: `${m.id} to let rogue-1 in again`,
      timeoutMs: 15_000,
    });
    assert.equal(welcome.t, 'welcome');
  }
  assert.equal((await listedKey(first(), 'rogue-1'))?.quarantined, undefined);
  rogue.close();
});

test('job arguments nested too deep are a 400 that stores nothing and touches no session', async () => {
  const nested = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
  const jobsBefore = (JSON.parse((await api(first(), 'GET', '/api/v1/jobs?limit=1000')).text) as { jobs: unknown[] })
    .jobs.length;
  // The rogue's sessions of the tests before end when their heartbeats stop: only the genuine one is left.
  await waitFor(
    async () =>
      (await Promise.all(masters.map((m) => metric(m, 'phoenix_connected_minions')))).reduce((a, b) => a + b) === 1,
    { what: 'only the genuine minion connected', timeoutMs: 20_000 },
  );
  const disconnects = await Promise.all(masters.map((m) => metric(m, 'phoenix_minion_disconnects_total')));
  for (const [depth, input] of [
    [100_000, 'api'],
    [150, 'api'],
    [35, 'job'],
  ] as const) {
    const answer = await api(
      first(),
      'POST',
      '/api/v1/jobs',
      `{"target":"steady-1","fun":"test.echo","args":[${nested(depth)}]}`,
    );
    assert.equal(answer.status, 400, `${depth} deep: ${answer.text}`);
    const error = (JSON.parse(answer.text) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'PHX_INPUT_OVER_LIMIT');
    assert.match(error.message, /nested deeper than \d+ levels/);
    assert.ok((await refused(first(), input, 'too-deep')) >= 1, `counted as ${input}`);
  }
  const jobsAfter = (JSON.parse((await api(first(), 'GET', '/api/v1/jobs?limit=1000')).text) as { jobs: unknown[] })
    .jobs.length;
  assert.equal(jobsAfter, jobsBefore, 'no job was stored');
  await everyMasterAnswers();
  assert.deepEqual(
    await Promise.all(masters.map((m) => metric(m, 'phoenix_minion_disconnects_total'))),
    disconnects,
    'no minion lost its session',
  );
});

test('a lifecycle message nested too deep is refused and counted, and every master keeps answering', async () => {
  const sqs = new SQSClient(awsClientConfig(devstack().aws, 'sqs'));
  try {
    const body = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    await sqs.send(new SendMessageCommand({ QueueUrl: devstack().lifecycle.queueUrl, MessageBody: body }));
    await waitFor(
      async () => (await Promise.all(masters.map((m) => refused(m, 'sqs', 'too-deep')))).some((n) => n >= 1),
      { what: 'a master to refuse the message', timeoutMs: 20_000 },
    );
  } finally {
    sqs.destroy();
  }
  await everyMasterAnswers();
});
