import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConditionFailedError } from '../src/index.js';
import { startStore } from './local-dynamodb.js';

const NOW = Date.parse('2030-05-02T10:00:00Z');

let env: Awaited<ReturnType<typeof startStore>>;
before(async () => {
  env = await startStore('runs-test');
});
after(() => env.close());

const newRun = (runId: string) => ({
  runId,
  kind: 'batch' as const,
  title: 'cmd.run on web-*',
  submitter: 'ops',
  originMaster: 'm1',
  spec: { fun: 'cmd.run', args: ['uptime'] },
});

test('a run is created held by its master and read back with its spec; a second create of the id is refused', async () => {
  const lease = { holder: 'm1', leaseId: 'a', until: NOW + 10_000 };
  const run = await env.store.runs.create(newRun('20300502100000000001'), lease, NOW);
  assert.equal(run.status, 'running');
  assert.deepEqual(run.drivers, ['m1']);
  const read = await env.store.runs.get('20300502100000000001');
  assert.deepEqual(read?.spec, { fun: 'cmd.run', args: ['uptime'] });
  assert.deepEqual(read?.lease, lease);
  await assert.rejects(env.store.runs.create(newRun('20300502100000000001'), lease, NOW), ConditionFailedError);
});

test('only the holder renews, records steps and finishes; a lapsed lease is taken over by exactly one master', async () => {
  const runs = env.store.runs;
  const lease = { holder: 'm1', leaseId: 'l1', until: NOW + 5_000 };
  const run = await runs.create(newRun('20300502100000000002'), lease, NOW);
  await runs.renew(run.runId, 'l1', NOW + 8_000, NOW + 1_000);
  await assert.rejects(runs.renew(run.runId, 'other', NOW + 9_000, NOW + 1_000), ConditionFailedError);
  await runs.setStep(run.runId, 'l1', 0, { status: 'running', startedAt: NOW + 1_000 }, NOW + 1_000);
  // Not yet lapsed: nobody takes it.
  const held = (await runs.get(run.runId))!;
  await assert.rejects(
    runs.takeOver(held, held.lease!, { holder: 'm2', leaseId: 'l2', until: NOW + 20_000 }, NOW + 2_000),
    ConditionFailedError,
  );
  // Lapsed: three masters try at once, one wins.
  const tries = await Promise.allSettled(
    ['m2', 'm3', 'm4'].map((holder) =>
      runs.takeOver(held, held.lease!, { holder, leaseId: `l-${holder}`, until: NOW + 30_000 }, NOW + 9_000),
    ),
  );
  const won = tries.filter((t) => t.status === 'fulfilled');
  assert.equal(won.length, 1);
  const now = (await runs.get(run.runId))!;
  assert.equal(now.drivers.length, 2);
  assert.equal(now.drivers[0], 'm1');
  assert.equal(now.lease?.holder, now.drivers[1]);
  // The old holder has lost it: its step records and its finish are refused.
  await assert.rejects(runs.setStep(run.runId, 'l1', 0, { status: 'done', startedAt: 0 }, NOW), ConditionFailedError);
  await assert.rejects(runs.finish(run.runId, 'l1', 'succeeded', 'done', NOW), ConditionFailedError);
  const finished = await runs.finish(run.runId, now.lease!.leaseId, 'stopped', 'two failures', NOW + 10_000);
  assert.equal(finished.status, 'stopped');
  assert.equal(finished.lease, undefined);
  assert.deepEqual(finished.steps[0], { status: 'running', startedAt: NOW + 1_000 });
  // A finished run is never renewed again.
  await assert.rejects(runs.renew(run.runId, now.lease!.leaseId, NOW + 99_000, NOW), ConditionFailedError);
});

test("a run's targets and dispatches load back by step; a dispatch place is written once", async () => {
  const runs = env.store.runs;
  const run = await runs.create(newRun('20300502100000000003'), { holder: 'm1', leaseId: 'x', until: NOW }, NOW);
  const minions = Array.from({ length: 4_500 }, (_, i) => `web-${i}.example.com`);
  await runs.putTargets(run.runId, 0, {
    minions,
    skipped: [{ minionId: 'db-1', reason: 'disabled' }],
    notConnected: ['web-x'],
  });
  await runs.putDispatch(run.runId, {
    step: 0,
    seq: 1,
    jid: 'j1',
    minions: ['web-0.example.com'],
    sentAt: NOW,
    sentBy: 'm1',
  });
  await runs.putDispatch(run.runId, {
    step: 0,
    seq: 0,
    jid: 'j0',
    minions: ['web-1.example.com'],
    sentAt: NOW,
    sentBy: 'm1',
  });
  await assert.rejects(
    runs.putDispatch(run.runId, {
      step: 0,
      seq: 1,
      jid: 'j9',
      minions: ['web-2.example.com'],
      sentAt: NOW,
      sentBy: 'm2',
    }),
    ConditionFailedError,
  );
  await runs.setOutcomes(run.runId, 0, 1, { 'web-0.example.com': { ok: false, retcode: 2, at: NOW + 5 } });
  const loaded = (await runs.load(run.runId))!;
  assert.deepEqual(loaded.targets.get(0)?.minions, minions);
  assert.deepEqual(loaded.targets.get(0)?.skipped, [{ minionId: 'db-1', reason: 'disabled' }]);
  assert.deepEqual(loaded.targets.get(0)?.notConnected, ['web-x']);
  assert.deepEqual(
    loaded.dispatches.get(0)?.map((d) => [d.seq, d.jid]),
    [
      [0, 'j0'],
      [1, 'j1'],
    ],
  );
  assert.deepEqual(loaded.dispatches.get(0)?.[1]?.outcomes, {
    'web-0.example.com': { ok: false, retcode: 2, at: NOW + 5 },
  });
});

test('runs are listed newest first and never appear among jobs or returns', async () => {
  const listed = await env.store.runs.listRecent({ now: NOW + 60_000 });
  assert.deepEqual(
    listed.map((r) => r.runId),
    ['20300502100000000003', '20300502100000000002', '20300502100000000001'],
  );
  assert.deepEqual((await env.store.jobs.listRecent({ now: NOW })).items, []);
  assert.deepEqual((await env.store.returns.listForJob('20300502100000000003')).items, []);
});
