import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { isPhoenixError } from '@phoenix/protocol';
import { ConditionFailedError } from '../src/index.js';
import type { NewJob } from '../src/index.js';
import { startStore } from './local-dynamodb.js';

const HOUR = 3_600_000;
const NOW = Date.parse('2030-05-02T10:00:00Z');

let env: Awaited<ReturnType<typeof startStore>>;
before(async () => {
  env = await startStore('jobs-test', { pageSize: 3, jobRetentionMs: 48 * HOUR });
});
after(() => env.close());

/** Salt-style jid: the creation time to the microsecond, so jids sort by time. */
const jidAt = (ms: number) => new Date(ms).toISOString().replace(/\D/g, '').slice(0, 17) + '000';

const job = (createdAt: number): NewJob => ({
  jid: jidAt(createdAt),
  fun: 'test.ping',
  args: [],
  kwargs: { timeout: 5 },
  target: 'web*',
  targetType: 'glob',
  submitter: 'alice',
  originMaster: 'm1',
  expected: ['i-1', 'i-2'],
  createdAt,
});

test('a job is stored once; a second put of the same jid is a typed conflict', async () => {
  const stored = await env.store.jobs.put(job(NOW - 1));
  assert.equal(stored.day, '2030-05-02');
  assert.equal(stored.expiresAt, Math.floor((NOW - 1 + 48 * HOUR) / 1000));
  await assert.rejects(env.store.jobs.put({ ...job(NOW - 1), fun: 'cmd.run' }), (err) => {
    assert.ok(err instanceof ConditionFailedError);
    assert.deepEqual(err.key, { jid: jidAt(NOW - 1) });
    return true;
  });
  assert.deepEqual(await env.store.jobs.get(jidAt(NOW - 1)), stored);
});

test('recent jobs are listed newest first across days, page by page, within retention', async () => {
  // 18 jobs every 4 hours back from NOW - 2 h: they span three UTC days; the oldest are past retention.
  const times = Array.from({ length: 18 }, (_, i) => NOW - 2 * HOUR - i * 4 * HOUR);
  for (const t of times) await env.store.jobs.put(job(t));
  const oldestDay = new Date(NOW - 48 * HOUR).toISOString().slice(0, 10);
  const expected = [NOW - 1, ...times].filter((t) => new Date(t).toISOString().slice(0, 10) >= oldestDay).map(jidAt);

  const before = env.store.jobs.reads.requests;
  const listed: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.store.jobs.listRecent({ limit: 4, now: NOW, ...(cursor === undefined ? {} : { cursor }) });
    assert.ok(page.items.length <= 4);
    listed.push(...page.items.map((j) => j.jid));
    cursor = page.cursor;
  } while (cursor !== undefined);

  assert.deepEqual(listed, expected);
  assert.ok(env.store.jobs.reads.requests - before > 5, 'many pages were requested');
  const firstFive = await env.store.jobs.listRecent({ limit: 5, now: NOW });
  assert.deepEqual(
    firstFive.items.map((j) => j.jid),
    expected.slice(0, 5),
  );
});

test('a cursor this list never returned is a typed error', async () => {
  await assert.rejects(env.store.jobs.listRecent({ cursor: 'not-a-cursor' }), (err) =>
    isPhoenixError(err, 'PHX_STORE_BAD_CURSOR'),
  );
  await assert.rejects(env.store.minions.list({ cursor: Buffer.from('[1]').toString('base64url') }), (err) =>
    isPhoenixError(err, 'PHX_STORE_BAD_CURSOR'),
  );
});

test('any arguments round-trip exactly: huge numbers, empty strings, deep nesting', async () => {
  let deep: unknown = 'bottom';
  for (let i = 0; i < 40; i++) deep = { level: deep };
  const args = [Number.MAX_SAFE_INTEGER * 1000, '', [[[]]], deep, null];
  const kwargs = { env: { EMPTY: '' }, n: 1e300 };
  const stored = { ...job(NOW - 5), args, kwargs };
  await env.store.jobs.put(stored);
  const read = await env.store.jobs.get(stored.jid);
  assert.deepEqual(read?.args, args);
  assert.deepEqual(read?.kwargs, kwargs);
});

test('jobs since a time, oldest first, across midnight; timeout and splay kept', async () => {
  const midnight = Date.parse('2030-06-01T00:00:00Z');
  const times = [midnight - 90_000, midnight - 30_000, midnight - 1, midnight + 20_000, midnight + 40_000];
  for (const t of times) await env.store.jobs.put({ ...job(t), timeoutMs: 60_000, splayMs: 5 });
  const since = await env.store.jobs.listSince(midnight - 60_000, { now: midnight + 45_000 });
  assert.deepEqual(
    since.map((j) => j.jid),
    times.slice(1).map(jidAt),
  );
  assert.equal(since[0]?.timeoutMs, 60_000);
  assert.equal(since[0]?.splayMs, 5);
  const newest = await env.store.jobs.listSince(midnight - 60_000, { now: midnight + 45_000, limit: 2 });
  assert.deepEqual(
    newest.map((j) => j.jid),
    times.slice(3).map(jidAt),
    'the newest within the limit',
  );
});

test("a job's summary is kept on its row and listed with it; a final one is never replaced by one that is not", async () => {
  const at = NOW - 2 * HOUR;
  await env.store.jobs.put({ ...job(at), jid: jidAt(at + 7) });
  const jid = jidAt(at + 7);
  assert.equal(await env.store.jobs.recordSummary(jid, { returned: 1, failed: 0, lastReturnAt: at + 50 }), true);
  assert.equal(
    await env.store.jobs.recordSummary(jid, { returned: 2, failed: 1, lastReturnAt: at + 90, final: true }),
    true,
  );
  // A late write of a summary as it stood before (not final) loses.
  assert.equal(await env.store.jobs.recordSummary(jid, { returned: 1, failed: 0, lastReturnAt: at + 50 }), false);
  const listed = (await env.store.jobs.listRecent({ limit: 50, now: NOW })).items.find((j) => j.jid === jid);
  assert.deepEqual(listed?.summary, { returned: 2, failed: 1, lastReturnAt: at + 90, final: true });
  assert.equal(await env.store.jobs.recordSummary(jidAt(at + 8), { returned: 0, failed: 0 }), false, 'no such job');
  assert.equal(await env.store.jobs.get(jidAt(at + 8)), undefined, 'and none was made');
});
