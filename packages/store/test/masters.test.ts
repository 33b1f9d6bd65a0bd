import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConditionFailedError, CorruptItemError, isLive } from '../src/index.js';
import type { NewMaster } from '../src/index.js';
import { startStore } from './local-dynamodb.js';

let env: Awaited<ReturnType<typeof startStore>>;
before(async () => {
  env = await startStore('masters-test', { pageSize: 4 });
});
after(() => env.close());

const master = (masterId: string, heartbeatAt = 1_000_000): NewMaster => ({
  masterId,
  host: '10.0.0.1',
  ports: { minion: 4506, enrol: 4505, peer: 4507, api: 8080 },
  status: 'active',
  heartbeatAt,
  startedAt: heartbeatAt,
  version: '0.1.0',
  minionCount: 0,
});

test('a master row is written, refreshed by heartbeat and read back', async () => {
  const put = await env.store.masters.put(master('m-hb'));
  assert.equal(put.expiresAt, Math.floor((1_000_000 + 3_600_000) / 1000));
  const beat = await env.store.masters.heartbeat('m-hb', { minionCount: 42, status: 'draining' }, 2_000_000);
  assert.equal(beat.heartbeatAt, 2_000_000);
  assert.equal(beat.minionCount, 42);
  assert.equal(beat.status, 'draining');
  const unchanged = await env.store.masters.heartbeat('m-hb', { minionCount: 1 }, 3_000_000);
  assert.equal(unchanged.status, 'draining', 'a heartbeat without a status keeps the status');
  assert.deepEqual(await env.store.masters.get('m-hb'), unchanged);
});

test('a heartbeat for a row another master swept away is a typed conflict, not a partial row', async () => {
  await assert.rejects(env.store.masters.heartbeat('m-swept', { minionCount: 0 }), (err) => {
    assert.ok(err instanceof ConditionFailedError);
    assert.equal(err.code, 'PHX_STORE_CONDITION_FAILED');
    assert.deepEqual(err.key, { masterId: 'm-swept' });
    return true;
  });
  assert.equal(await env.store.masters.get('m-swept'), undefined);
});

test('sweeping a dead master does not delete it if it heartbeat again meanwhile', async () => {
  await env.store.masters.put(master('m-back', 1_000));
  await env.store.masters.heartbeat('m-back', { minionCount: 0 }, 9_000);
  await assert.rejects(env.store.masters.delete('m-back', 1_000), ConditionFailedError);
  await env.store.masters.delete('m-back', 9_000);
  assert.equal(await env.store.masters.get('m-back'), undefined);
});

test('liveness is decided by heartbeat age, not by the row being there', () => {
  const record = { ...master('m-live', 10_000), expiresAt: 0 };
  assert.equal(isLive(record, 6_000, 15_999), true);
  assert.equal(isLive(record, 6_000, 16_000), false);
});

test('listing many masters follows every page and counts the reads', async () => {
  for (let i = 0; i < 13; i++) await env.store.masters.put(master(`m-list-${String(i).padStart(2, '0')}`));
  const before = env.store.masters.reads;
  const listed = await env.store.masters.list();
  const after = env.store.masters.reads;
  const ids = listed.map((m) => m.masterId).filter((id) => id.startsWith('m-list-'));
  assert.equal(new Set(ids).size, 13);
  assert.ok(after.requests - before.requests >= 4, `pages requested: ${after.requests - before.requests}`);
  assert.equal(after.items - before.items, listed.length);
});

test('a corrupt master row is a typed error naming the table and key', async () => {
  await env.raw.send(
    new PutCommand({ TableName: 'masters-test-masters', Item: { masterId: 'm-bad', host: 7, status: 'zombie' } }),
  );
  await assert.rejects(env.store.masters.get('m-bad'), (err) => {
    assert.ok(err instanceof CorruptItemError);
    assert.equal(err.code, 'PHX_STORE_CORRUPT_ITEM');
    assert.deepEqual(err.details.key, { masterId: 'm-bad' });
    assert.match(err.message, /host/);
    return true;
  });
  await assert.rejects(env.store.masters.list(), CorruptItemError);
});
