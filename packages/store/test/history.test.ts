import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startStore } from './local-dynamodb.js';

// A minion's lifecycle and master histories live on its row, written in the same request as the
// change they record, and bounded: the newest `historyLength` entries are kept.

let env: Awaited<ReturnType<typeof startStore>>;
before(async () => {
  env = await startStore('history-test', { historyLength: 5 });
});
after(() => env.close());

const key = { publicKey: 'pk', fingerprint: 'fp' };
const claim = { masterId: 'm-1', claimId: 'c-1' };

test('an instance launched, accepted, highstated and terminated has each step in its lifecycle history', async () => {
  const minions = env.store.minions;
  await minions.setLifecycle('i-life', { state: 'launching', group: 'web', hookName: 'h', token: 't' }, 10, 'm-1');
  // A duplicate delivery of the launch rewrites the state but is no second entry.
  await minions.setLifecycle('i-life', { state: 'launching', group: 'web', hookName: 'h', token: 't' }, 11, 'm-2');
  await minions.registerKey('i-life', key, 12);
  await minions.acceptUncontested('i-life', 20, 'm-1');
  await minions.claimHighstate('i-life', claim, 5_000, { now: 30 });
  await minions.recordHighstateJob('i-life', claim, 'jid-1');
  await minions.finishHighstate('i-life', claim, { result: 'success', jid: 'jid-1' }, 40);
  await minions.setLifecycle('i-life', { state: 'in-service', group: 'web' }, 50, 'm-1');
  // A launch processed after the instance is in service changes nothing, and adds nothing.
  assert.equal(await minions.setLifecycle('i-life', { state: 'launching', group: 'web' }, 55), undefined);
  await minions.setLifecycle('i-life', { state: 'terminated', group: 'web' }, 60, 'm-2');
  const record = await minions.get('i-life');
  assert.deepEqual(record?.lifecycleHistory, [
    { at: 10, event: 'launching', by: 'm-1' },
    { at: 20, event: 'key-accepted', by: 'm-1' },
    { at: 30, event: 'highstate-started', by: 'm-1' },
    { at: 40, event: 'highstate-succeeded', by: 'm-1', jid: 'jid-1' },
    { at: 50, event: 'in-service', by: 'm-1' },
    { at: 60, event: 'terminated', by: 'm-2' },
  ]);
});

test('an abandoned launch is an entry of its own; a failed highstate says so', async () => {
  const minions = env.store.minions;
  await minions.setLifecycle('i-abandon', { state: 'launching', group: 'web' }, 1);
  await minions.registerKey('i-abandon', key, 2);
  await minions.acceptUncontested('i-abandon', 3);
  await minions.claimHighstate('i-abandon', claim, 5_000, { now: 4 });
  await minions.recordHighstateJob('i-abandon', claim, 'jid-2');
  await minions.finishHighstate('i-abandon', claim, { result: 'failure', jid: 'jid-2' }, 5);
  await minions.noteLifecycle('i-abandon', 'abandoned', 6, { by: 'm-1' });
  const events = (await minions.get('i-abandon'))?.lifecycleHistory?.map((e) => e.event);
  assert.deepEqual(events, ['launching', 'key-accepted', 'highstate-started', 'highstate-failed', 'abandoned']);
});

test('connections and disconnections make the master history; a late disconnect from the old master adds nothing', async () => {
  const minions = env.store.minions;
  await minions.setPresence('i-moves', 'm-1', 100);
  await minions.setPresence('i-moves', 'm-2', 200);
  // m-1 hears its session end after the minion is on m-2: presence stays, history unchanged.
  assert.equal(await minions.clearPresence('i-moves', 'm-1', 210), false);
  assert.equal(await minions.clearPresence('i-moves', 'm-2', 300), true);
  assert.deepEqual((await minions.get('i-moves'))?.masterHistory, [
    { at: 100, masterId: 'm-1', event: 'connected' },
    { at: 200, masterId: 'm-2', event: 'connected' },
    { at: 300, masterId: 'm-2', event: 'disconnected' },
  ]);
});

test('a history is bounded: past its length and a slack, the newest entries are kept', async () => {
  const minions = env.store.minions;
  for (let i = 0; i < 40; i++) await minions.setPresence('i-flaps', `m-${i % 3}`, 1_000 + i);
  const history = (await minions.get('i-flaps'))?.masterHistory ?? [];
  assert.ok(history.length >= 5 && history.length <= 15, `bounded: ${history.length} entries`);
  assert.equal(history.at(-1)?.at, 1_039, 'the newest is kept');
  assert.deepEqual(
    history.map((e) => e.at),
    [...history.map((e) => e.at)].sort((a, b) => a - b),
    'oldest first',
  );
  assert.ok(history[0] !== undefined && history[0].at >= 1_025, 'the oldest went');
});
