import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { CorruptItemError } from '../src/index.js';
import type { NewReturn } from '../src/index.js';
import { startStore } from './local-dynamodb.js';

let env: Awaited<ReturnType<typeof startStore>>;
before(async () => {
  env = await startStore('returns-test', { pageSize: 10 });
});
after(() => env.close());

const ret = (jid: string, minionId: string, value: unknown = true): NewReturn => ({
  jid,
  minionId,
  success: true,
  retcode: 0,
  ret: value,
  masterId: 'm1',
  receivedAt: 5_000,
});

test('a return sent twice within one batch (a minion resending it as its master takes the herd) is stored once, not refused with the batch', async () => {
  // Seen in a chaos run: DynamoDB refuses a batch write naming one key twice, and the 24 other
  // returns of that batch were refused with it, unacknowledged.
  await env.store.returns.putMany([ret('j-twice', 'i-1'), ret('j-twice', 'i-2'), ret('j-twice', 'i-1')]);
  assert.deepEqual(
    (await env.store.returns.listForJob('j-twice')).items.map((r) => r.minionId),
    ['i-1', 'i-2'],
  );
});

test('returns are stored in batches; a copy re-sent after a failover rewrites its one row', async () => {
  await env.store.returns.putMany([ret('j-dup', 'i-1', { out: 'first' }), ret('j-dup', 'i-2')]);
  await env.store.returns.putMany([ret('j-dup', 'i-1', { out: 'first' })]);
  const stored = await env.store.returns.get('j-dup', 'i-1');
  assert.deepEqual(stored?.ret, { out: 'first' });
  assert.equal(stored?.truncated, undefined);
  assert.equal(stored?.expiresAt, Math.floor((5_000 + 86_400_000) / 1000));
  assert.deepEqual(
    (await env.store.returns.listForJob('j-dup')).items.map((r) => r.minionId),
    ['i-1', 'i-2'],
  );
  await env.store.returns.putMany([]);
});

test('any JSON a minion returns round-trips, however deep or numeric', async () => {
  let deep: unknown = 'bottom';
  for (let i = 0; i < 40; i++) deep = { level: i, inner: deep };
  const value = { deep, big: 1e300, list: [null, '', 0.5], empty: {} };
  await env.store.returns.putMany([ret('j-shape', 'i-1', value)]);
  assert.deepEqual((await env.store.returns.get('j-shape', 'i-1'))?.ret, value);
});

test('an oversized return is stored truncated with a marker, never rejected', async () => {
  const huge = { stdout: 'x'.repeat(600_000) };
  await env.store.returns.putMany([ret('j-big', 'i-1', huge)]);
  const stored = await env.store.returns.get('j-big', 'i-1');
  assert.equal(stored?.truncated?.originalBytes, JSON.stringify(huge).length);
  assert.equal(typeof stored?.ret, 'string');
  assert.ok(String(stored?.ret).startsWith('{"stdout":"xxx'));
  assert.equal(String(stored?.ret).length, 350_000);
});

test('all returns of a job are listed across many pages (stored in one call, beyond one batch)', async () => {
  await env.store.returns.putMany(
    Array.from({ length: 35 }, (_, i) => ret('j-many', `i-${String(i).padStart(2, '0')}`, i)),
  );
  await env.store.returns.putMany([ret('j-other', 'i-00')]);
  const before = env.store.returns.reads.requests;
  const all = await env.store.returns.listForJob('j-many');
  assert.ok(env.store.returns.reads.requests - before >= 4, 'more than one page was requested');
  assert.deepEqual(
    all.items.map((r) => r.ret),
    Array.from({ length: 35 }, (_, i) => i),
  );
  const first = await env.store.returns.listForJob('j-many', { limit: 20 });
  assert.equal(first.items.length, 20);
  const rest = await env.store.returns.listForJob('j-many', { limit: 20, cursor: first.cursor ?? '' });
  assert.deepEqual(
    [...first.items, ...rest.items].map((r) => r.minionId),
    all.items.map((r) => r.minionId),
  );
});

test('a return whose payload is not JSON is a typed error, not a crash', async () => {
  await env.raw.send(
    new PutCommand({
      TableName: 'returns-test-returns',
      Item: { ...ret('j-bad', 'i-1'), ret: '{oops', expiresAt: 1 },
    }),
  );
  await assert.rejects(env.store.returns.get('j-bad', 'i-1'), (err) => {
    assert.ok(err instanceof CorruptItemError);
    assert.deepEqual(err.details.key, { jid: 'j-bad', minionId: 'i-1' });
    return true;
  });
  await assert.rejects(env.store.returns.listForJob('j-bad'), CorruptItemError);
});
