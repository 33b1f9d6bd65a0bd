import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConditionFailedError } from '../src/index.js';
import { startStore } from './local-dynamodb.js';

let env: Awaited<ReturnType<typeof startStore>>;
before(async () => {
  env = await startStore('minions-test', { pageSize: 5 });
});
after(() => env.close());

const key = (n: string) => ({ publicKey: `pk-${n}`, fingerprint: `fp-${n}` });

test('a new key is registered pending once; a second registration is a typed conflict', async () => {
  const first = await env.store.minions.registerKey('i-reg', key('a'), 1_000);
  assert.equal(first.keyState, 'pending');
  assert.equal(first.publicKey, 'pk-a');
  assert.equal(first.keyUpdatedAt, 1_000);
  await assert.rejects(env.store.minions.registerKey('i-reg', key('b')), ConditionFailedError);
  assert.equal((await env.store.minions.get('i-reg'))?.publicKey, 'pk-a', 'a second key never replaces the first');
});

test('a key registers pending on a row the lifecycle reactor already made', async () => {
  await env.store.minions.setLifecycle('i-launched', { state: 'launching', group: 'web', token: 't' }, 5);
  const registered = await env.store.minions.registerKey('i-launched', key('l'));
  assert.equal(registered.keyState, 'pending');
  assert.equal(registered.lifecycle?.state, 'launching');
});

test('a key state changes only from the expected state', async () => {
  await env.store.minions.registerKey('i-state', key('s'));
  await assert.rejects(env.store.minions.setKeyState('i-state', 'accepted', 'rejected'), (err) => {
    assert.ok(err instanceof ConditionFailedError);
    assert.equal(err.table, 'minions-test-minions');
    assert.deepEqual(err.key, { minionId: 'i-state' });
    return true;
  });
  const accepted = await env.store.minions.setKeyState('i-state', ['pending', 'rejected'], 'accepted', 7);
  assert.equal(accepted.keyState, 'accepted');
  assert.equal(accepted.keyUpdatedAt, 7);
});

test('deleting a key keeps the history and lets the minion enrol again as pending', async () => {
  await env.store.minions.registerKey('i-del', key('d'));
  await env.store.minions.setLifecycle('i-del', { state: 'in-service', group: 'web' }, 1_000);
  const kept = await env.store.minions.deleteKey('i-del');
  assert.equal(kept?.lifecycle?.state, 'in-service');
  assert.equal(kept?.keyState, undefined);
  assert.equal((await env.store.minions.registerKey('i-del', key('d2'))).keyState, 'pending');
  await assert.rejects(env.store.minions.deleteKey('i-never-seen'), ConditionFailedError);
});

test('deleting the key of a row without a lifecycle removes the row', async () => {
  await env.store.minions.registerKey('i-flood', key('f'));
  await env.store.minions.updateGrains('i-flood', { os: 'Linux' });
  assert.equal(await env.store.minions.deleteKey('i-flood'), undefined);
  assert.equal(await env.store.minions.get('i-flood'), undefined, 'no row is left');
});

test('pending keys are counted cluster-wide from the index', async () => {
  const before = await env.store.minions.countByKeyState('pending');
  for (let i = 0; i < 7; i++) await env.store.minions.registerKey(`i-count-${i}`, key(`c${i}`));
  assert.equal(await env.store.minions.countByKeyState('pending'), before + 7);
});

test('strikes add up over a window across writers, and a quarantine holds an accepted key until lifted', async () => {
  await env.store.minions.registerKey('i-poison', key('p'));
  assert.equal(await env.store.minions.addStrikes('i-poison', 1, 60_000, 1_000), undefined, 'not accepted yet');
  await env.store.minions.setKeyState('i-poison', 'pending', 'accepted');
  const counts = await Promise.all([1, 2, 3].map(() => env.store.minions.addStrikes('i-poison', 1, 60_000, 2_000)));
  assert.deepEqual(counts.sort(), [1, 2, 3], 'concurrent writers each add their strike');
  assert.equal(await env.store.minions.addStrikes('i-poison', 2, 60_000, 70_000), 2, 'a new window starts afresh');
  const held = await env.store.minions.setQuarantine('i-poison', { at: 5, reason: 'poison', by: 'm1' });
  assert.equal(held.quarantine?.reason, 'poison');
  await assert.rejects(
    env.store.minions.setQuarantine('i-poison', { at: 6, reason: 'x', by: 'm2' }),
    ConditionFailedError,
  );
  const lifted = await env.store.minions.liftQuarantine('i-poison');
  assert.equal(lifted.quarantine, undefined);
  assert.equal(lifted.strikes, undefined);
  assert.equal(lifted.keyState, 'accepted');
});

test("a terminated instance's deleted key is gone for good: its minion cannot enrol again", async () => {
  await env.store.minions.registerKey('i-gone', key('g'));
  await env.store.minions.setLifecycle('i-gone', { state: 'terminated', group: 'web' }, 1_000_000);
  const deleted = await env.store.minions.deleteKey('i-gone');
  assert.equal(deleted?.keyState, undefined);
  assert.equal(deleted?.publicKey, undefined);
  assert.equal(deleted?.lifecycle?.state, 'terminated');
  assert.equal(deleted?.expiresAt, Math.floor((1_000_000 + 30 * 86_400_000) / 1000));
  await assert.rejects(env.store.minions.registerKey('i-gone', key('g')), ConditionFailedError);
  assert.equal((await env.store.minions.get('i-gone'))?.keyState, undefined);
});

test('accepted keys are listed from the index, page by page, without the others', async () => {
  for (let i = 0; i < 12; i++) {
    const id = `i-acc-${String(i).padStart(2, '0')}`;
    await env.store.minions.registerKey(id, key(id));
    if (i % 3 !== 0) await env.store.minions.setKeyState(id, 'pending', 'accepted');
  }
  const before = env.store.minions.reads.requests;
  const all = await env.store.minions.listByKeyState('accepted');
  assert.ok(env.store.minions.reads.requests - before > 1, 'more than one page was requested');
  const ids = all.items.map((m) => m.minionId).filter((id) => id.startsWith('i-acc-'));
  assert.equal(ids.length, 8);
  assert.ok(all.items.every((m) => m.keyState === 'accepted'));
  assert.equal(all.cursor, undefined);
});

test('listing minions with a limit returns a cursor that resumes exactly where it stopped', async () => {
  for (let i = 0; i < 9; i++) await env.store.minions.updateGrains(`i-page-${i}`, { os: 'Linux', n: i });
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await env.store.minions.list({ limit: 3, ...(cursor === undefined ? {} : { cursor }) });
    assert.ok(page.items.length <= 3);
    seen.push(...page.items.map((m) => m.minionId));
    cursor = page.cursor;
    pages++;
  } while (cursor !== undefined);
  const total = (await env.store.minions.list()).items.length;
  assert.equal(seen.length, total);
  assert.equal(new Set(seen).size, total, 'no minion is listed twice');
  assert.ok(pages > 2);
  assert.deepEqual((await env.store.minions.get('i-page-4'))?.grains, { os: 'Linux', n: 4 });
});

test('a late disconnect does not erase the connection the minion made to another master', async () => {
  await env.store.minions.setPresence('i-move', 'm1', 10);
  await env.store.minions.setPresence('i-move', 'm2', 20);
  assert.equal(await env.store.minions.clearPresence('i-move', 'm1'), false);
  assert.equal((await env.store.minions.get('i-move'))?.connectedMaster, 'm2');
  assert.equal(await env.store.minions.clearPresence('i-move', 'm2'), true);
  assert.equal((await env.store.minions.get('i-move'))?.connectedMaster, undefined);
});

test("a busy master's late write of an older hello does not move the minion back, and the late disconnect after it clears nothing", async () => {
  // The minion said hello to m1 at its time 1,000, then moved to m3 at 1,001; m3's write landed first.
  await env.store.minions.setPresence('i-cross', 'm3', 30, undefined, 1_001);
  const late = await env.store.minions.setPresence('i-cross', 'm1', 40, { os: 'old' }, 1_000);
  assert.equal(late.connectedMaster, 'm3', 'the row as it is');
  assert.equal(late.grains, undefined, 'nothing of the older hello was written');
  assert.equal(await env.store.minions.clearPresence('i-cross', 'm1'), false);
  assert.equal((await env.store.minions.get('i-cross'))?.connectedMaster, 'm3');
  // A later hello (its time higher) moves it as always.
  await env.store.minions.setPresence('i-cross', 'm1', 50, undefined, 1_002);
  assert.equal((await env.store.minions.get('i-cross'))?.connectedMaster, 'm1');
});

test("a hello's presence and grains are one write, and a connection without grains keeps the row's", async () => {
  await env.store.minions.registerKey('i-hello', key('hello'));
  const record = await env.store.minions.setPresence('i-hello', 'm1', 10, { os: 'Linux', roles: ['web'] });
  assert.equal(record.connectedMaster, 'm1');
  assert.deepEqual(record.grains, { os: 'Linux', roles: ['web'] });
  assert.equal(record.keyState, 'pending');
  await env.store.minions.setPresence('i-hello', 'm2', 20);
  const after = await env.store.minions.get('i-hello');
  assert.equal(after?.connectedMaster, 'm2');
  assert.deepEqual(after?.grains, { os: 'Linux', roles: ['web'] });
  assert.deepEqual(
    after?.masterHistory?.map((e) => e.masterId),
    ['m1', 'm2'],
  );
});

test('a highstate claim held by another master is refused until its lease expires', async () => {
  await env.store.minions.registerKey('i-hs', key('hs'));
  const m1 = { masterId: 'm1', claimId: 'm1-a' };
  const claim = await env.store.minions.claimHighstate('i-hs', m1, 30_000, { now: 100_000 });
  assert.deepEqual(claim.highstate, { claimedBy: 'm1', claimId: 'm1-a', leaseUntil: 130_000, startedAt: 100_000 });
  const m2 = { masterId: 'm2', claimId: 'm2-a' };
  await assert.rejects(env.store.minions.claimHighstate('i-hs', m2, 30_000, { now: 129_999 }), ConditionFailedError);
  // The same attempt repeating its claim (a retried request) keeps it.
  await env.store.minions.claimHighstate('i-hs', m1, 30_000, { now: 101_000 });
  const taken = await env.store.minions.claimHighstate('i-hs', m2, 30_000, { now: 131_000 });
  assert.equal(taken.highstate?.claimedBy, 'm2');
  // The crashed holder learns it lost the claim.
  await assert.rejects(env.store.minions.renewHighstate('i-hs', m1, 30_000, 132_000), ConditionFailedError);
  await assert.rejects(
    env.store.minions.finishHighstate('i-hs', m1, { result: 'success', jid: 'j1' }),
    ConditionFailedError,
  );
});

test('a second attempt by the same master is refused while its first holds the claim', async () => {
  await env.store.minions.registerKey('i-twice', key('twice'));
  await env.store.minions.claimHighstate('i-twice', { masterId: 'm1', claimId: 'first' }, 30_000, { now: 1_000 });
  await assert.rejects(
    env.store.minions.claimHighstate('i-twice', { masterId: 'm1', claimId: 'second' }, 30_000, { now: 1_040 }),
    ConditionFailedError,
  );
});

test('one job per claim, and a taking-over claim adopts the job the row names', async () => {
  await env.store.minions.registerKey('i-job', key('job'));
  const first = { masterId: 'm1', claimId: 'm1-a' };
  await env.store.minions.claimHighstate('i-job', first, 1_000, { now: 0 });
  await env.store.minions.recordHighstateJob('i-job', first, 'j1');
  await assert.rejects(env.store.minions.recordHighstateJob('i-job', first, 'j2'), ConditionFailedError);
  const next = { masterId: 'm2', claimId: 'm2-a' };
  // A claim that expects no job (it would start its own) is refused: the row has one.
  await assert.rejects(env.store.minions.claimHighstate('i-job', next, 1_000, { now: 5_000 }), ConditionFailedError);
  const adopted = await env.store.minions.claimHighstate('i-job', next, 1_000, { jid: 'j1', now: 5_000 });
  assert.equal(adopted.highstate?.jid, 'j1');
  // The result is only the claimed job's.
  await assert.rejects(
    env.store.minions.finishHighstate('i-job', next, { result: 'failure', jid: 'j2' }),
    ConditionFailedError,
  );
  const done = await env.store.minions.finishHighstate('i-job', next, { result: 'success', jid: 'j1' }, 5_500);
  assert.equal(done.highstate?.result, 'success');
});

test('a finished highstate is never claimed again', async () => {
  await env.store.minions.registerKey('i-done', key('done'));
  const m1 = { masterId: 'm1', claimId: 'm1-a' };
  await env.store.minions.claimHighstate('i-done', m1, 1_000, { now: 0 });
  assert.equal((await env.store.minions.renewHighstate('i-done', m1, 1_000, 500)).highstate?.leaseUntil, 1_500);
  await env.store.minions.recordHighstateJob('i-done', m1, 'j1');
  const done = await env.store.minions.finishHighstate('i-done', m1, { result: 'failure', jid: 'j1' }, 900);
  assert.deepEqual(done.highstate, {
    claimedBy: 'm1',
    claimId: 'm1-a',
    leaseUntil: 1_500,
    startedAt: 0,
    result: 'failure',
    jid: 'j1',
    finishedAt: 900,
  });
  const m2 = { masterId: 'm2', claimId: 'm2-a' };
  await assert.rejects(env.store.minions.claimHighstate('i-done', m2, 1_000, { now: 10_000 }), ConditionFailedError);
  await assert.rejects(
    env.store.minions.claimHighstate('i-done', m2, 1_000, { jid: 'j1', now: 10_000 }),
    ConditionFailedError,
  );
  await assert.rejects(env.store.minions.claimHighstate('i-unknown', m2, 1_000, { now: 10_000 }), ConditionFailedError);
});

test('a minion can be disabled and enabled again', async () => {
  const disabled = await env.store.minions.setDisabled('i-dis', { by: 'alice', reason: 'maintenance' }, 77);
  assert.deepEqual(disabled.disabled, { by: 'alice', reason: 'maintenance', at: 77 });
  assert.equal((await env.store.minions.setDisabled('i-dis', undefined)).disabled, undefined);
});

test('lifecycle steps only move forward: a launch processed after its terminate changes nothing', async () => {
  await env.store.minions.setLifecycle('i-order', { state: 'terminated', group: 'web' }, 10);
  const late = await env.store.minions.setLifecycle('i-order', { state: 'launching', group: 'web', token: 't' }, 20);
  assert.equal(late, undefined);
  assert.equal((await env.store.minions.get('i-order'))?.lifecycle?.state, 'terminated');
  const again = await env.store.minions.setLifecycle('i-order', { state: 'terminated', group: 'web' }, 30);
  assert.equal(again?.lifecycle?.updatedAt, 30, 'a duplicate of the current step is applied again');
});

test('warm pool: an instance leaves the pool once, its preparation forgotten; it returns keeping its key', async () => {
  const m = env.store.minions;
  await m.setLifecycle('i-warm', { state: 'warming', group: 'web', token: 'w' }, 1);
  await m.registerKey('i-warm', key('w'));
  await m.setKeyState('i-warm', 'pending', 'accepted');
  const first = { masterId: 'master-1', claimId: 'master-1-a' };
  await m.claimHighstate('i-warm', first, 60_000, { now: 2 });
  await m.recordHighstateJob('i-warm', first, 'j-warm');
  await m.finishHighstate('i-warm', first, { result: 'success', jid: 'j-warm' }, 3);
  await m.setLifecycle('i-warm', { state: 'warmed', group: 'web', token: 'w' }, 4);

  assert.equal(await m.leaveWarmPool('i-warm', { state: 'launching', group: 'web', token: 'l' }, 5), true);
  const left = await m.get('i-warm');
  assert.equal(left?.lifecycle?.state, 'launching');
  assert.equal(left?.highstate, undefined, 'the first highstate in service runs afresh');
  assert.equal(left?.keyState, 'accepted');
  // A repeated delivery of the same message finds it launching: nothing moves.
  await m.claimHighstate('i-warm', { masterId: 'master-2', claimId: 'master-2-a' }, 60_000, { now: 6 });
  assert.equal(await m.leaveWarmPool('i-warm', { state: 'launching', group: 'web', token: 'l' }, 7), false);
  assert.equal((await m.get('i-warm'))?.highstate?.claimedBy, 'master-2', 'a running claim is never wiped');

  await m.setLifecycle('i-warm', { state: 'in-service', group: 'web' }, 8);
  assert.equal(await m.returnToWarmPool('i-warm', { group: 'web', token: 'r' }, 9), true);
  const back = await m.get('i-warm');
  assert.equal(back?.lifecycle?.state, 'warmed');
  assert.equal(back?.keyState, 'accepted', 'an instance back in the pool keeps its key');

  await m.setLifecycle('i-warm', { state: 'terminated', group: 'web' }, 10);
  assert.equal(await m.returnToWarmPool('i-warm', { group: 'web' }, 11), false, 'a terminated instance stays so');
  assert.equal(await m.leaveWarmPool('i-warm', { state: 'launching', group: 'web' }, 12), false);
  assert.equal(await m.returnToWarmPool('i-never', { group: 'web' }, 13), false, 'no row is made for an unknown id');
  assert.equal(await m.get('i-never'), undefined);
});
